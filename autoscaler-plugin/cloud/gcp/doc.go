// Package gcp is the Google Compute Engine side of the cloud seam: a
// cloud.Provider that launches, lists and terminates the GCE instances of
// one offering (region, machine type, spot or on-demand) through the
// Compute Engine API v1 (cloud.google.com/go/compute/apiv1, REST).
//
// # Instances
//
// An instance's ID is "<zone>/<name>". Names are "sky-", the machine type,
// "spot" or "od", and a random suffix (sky-n2-standard-8-spot-k3j9x0qa).
// Spot instances are SPOT with instanceTerminationAction DELETE, so a
// preempted instance disappears instead of lingering as TERMINATED;
// on-demand instances are STANDARD.
//
// # Labels
//
// GCE label keys and values allow only lowercase letters, digits, '_' and
// '-', at most 63 characters, and a key must start with a letter. Tags
// (cloud.LaunchRequest.Tags) become labels so:
//
//   - LabelKey lowercases the key and turns every other character into '-':
//     skynomad:node-class → skynomad-node-class, skynomad:offering →
//     skynomad-offering, skynomad:managed → skynomad-managed. A key that
//     would not start with a letter gets the prefix "k-".
//   - LabelValue lowercases the value and turns every other character
//     ('.', ':', '/', spaces, non-ASCII letters) into '_':
//     sky-aws-us-east-1-m6i.2xlarge-spot → sky-aws-us-east-1-m6i_2xlarge-spot.
//   - Both are cut to 63 characters.
//
// The encoding is lossy, so every instance also carries its exact node
// class in the metadata key skynomad-node-class (and its bootstrap in
// startup-script). List selects by the label and then, where the metadata
// is present, by the exact class.
//
// # Capacity errors
//
// Classify maps GCE's refusals to a *cloud.CapacityError: the zone is out
// of the type (ZONE_RESOURCE_POOL_EXHAUSTED…) is a Stockout in that zone;
// a project quota (QUOTA_EXCEEDED, quotaExceeded) is a Quota for the whole
// region; a machine type the zone does not offer is Unsupported there. An
// API rate limit (rateLimitExceeded) is not capacity: it passes after a
// minute.
package gcp
