// Package gcefake is a hand-written fake of the Google Compute Engine
// control plane, served over HTTP on 127.0.0.1, for tests of cloud/gcp
// through the real Go client (cloud.google.com/go/compute/apiv1, REST):
// nothing real can run here, and GCE has no emulator.
//
// It follows the Compute Engine API v1 (compute/v1) as documented at
// https://cloud.google.com/compute/docs/reference/rest/v1, at the paths the
// Go REST client builds: the client appends /compute/v1/projects/{project}/…
// to the endpoint, so Server.URL is the value for gcp_endpoint as is. Bodies
// are the API's JSON (lowerCamel names, int64 as strings), read into this
// package's own types, so a field the client sends under a wrong name is
// lost here as it would be at GCE.
//
// # What it implements
//
//   - instances.insert: validates the name, machine type, labels and boot
//     disk as GCE does (400 invalid), 409 alreadyExists for a name in use,
//     400 invalid "Machine type with name '…' does not exist in zone '…'"
//     for a type in Options.NotOffered, then returns a PENDING zone
//     operation. The instance is PROVISIONING, STAGING, then RUNNING once
//     Options.BootDelay has passed (on Options.Now's clock). It is served
//     back with GCE's server fields (id, selfLink, full URLs, IPs) but with
//     scheduling as sent, without GCE's defaults, and with the boot disk's
//     initializeParams, which GCE does not return.
//   - A Refusal (Server.Refusals) matching the insert: a code in upper
//     case (ZONE_RESOURCE_POOL_EXHAUSTED, ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS,
//     QUOTA_EXCEEDED, UNSUPPORTED_OPERATION, …) is reported as GCE reports
//     a refused launch: the insert is accepted, no instance is made, and
//     the operation ends DONE with error.errors[{code, message}] and
//     httpErrorStatusCode (503 for the resource pool codes, 403 for
//     QUOTA_EXCEEDED, 400 otherwise). Any other code (quotaExceeded,
//     rateLimitExceeded, invalid, …) is the insert's own HTTP error with
//     that reason (403 for quotaExceeded and rateLimitExceeded, else 400).
//   - instances.get, instances.list and instances.aggregatedList (every
//     zone of every region in Options.Zones as zones/<zone>; a zone with no
//     match carries the NO_RESULTS_ON_PAGE warning), with the filter
//     subset: terms "field = value" / "field != value" on name, status,
//     zone or labels.<key>, joined by AND or by juxtaposed (parenthesised)
//     terms; values bare or double-quoted. Any other filter is 400 invalid.
//   - instances.delete: the instance is gone at once (404 notFound after),
//     Hooks.Terminate runs; returns a PENDING operation.
//   - zoneOperations.get and zoneOperations.wait: the operation, DONE.
//   - regions.get: the region's zones (Options.Zones), as zone URLs.
//   - Server.Preempt: GCE preempting a spot instance; with
//     instanceTerminationAction DELETE it is gone, with STOP it is
//     TERMINATED.
//
// # What it does not implement
//
// Everything else: paging (every list is one page), filters beyond the
// subset above, orderBy, requestId deduplication, other instance methods
// (start, stop, setLabels, setMetadata, …), global and region operations,
// zones.list, machine type, image, network and quota resources (any image,
// network or service account is accepted), authentication (credentials
// are ignored), and the time GCE takes to finish an operation (one is DONE
// when first read).
package gcefake
