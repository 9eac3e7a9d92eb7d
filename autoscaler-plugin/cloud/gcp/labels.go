package gcp

import (
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
)

// maxLabel is GCE's limit on a label key's or value's length.
const maxLabel = 63

// MetadataNodeClass is the instance metadata key holding the exact node
// class (labels hold it only as LabelValue encodes it).
const MetadataNodeClass = "skynomad-node-class"

// MetadataStartupScript is the metadata key GCE's guest agent runs at boot.
const MetadataStartupScript = "startup-script"

// LabelKey is the GCE label key for a tag key: lower case, every character
// other than a-z, 0-9, '_' and '-' turned into '-', "k-" in front when it
// would not start with a letter, at most 63 characters
// (skynomad:node-class → skynomad-node-class).
func LabelKey(tag string) string {
	k := encodeLabel(tag, '-')
	if k == "" || k[0] < 'a' || k[0] > 'z' {
		k = "k-" + k
	}
	return truncate(k, maxLabel)
}

// LabelValue is the GCE label value for a tag value: lower case, every
// character other than a-z, 0-9, '_' and '-' turned into '_', at most 63
// characters (sky-aws-us-east-1-m6i.2xlarge-spot →
// sky-aws-us-east-1-m6i_2xlarge-spot).
func LabelValue(v string) string {
	return truncate(encodeLabel(v, '_'), maxLabel)
}

func encodeLabel(s string, other rune) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune(other)
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// labelsFor returns the labels of an instance launched for req: its tags,
// encoded, and always the node class label List selects by. Tags whose keys
// encode alike: the one sorting last wins.
func labelsFor(req cloud.LaunchRequest) map[string]string {
	keys := make([]string, 0, len(req.Tags))
	for k := range req.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	labels := make(map[string]string, len(keys)+1)
	for _, k := range keys {
		labels[LabelKey(k)] = LabelValue(req.Tags[k])
	}
	labels[LabelKey(cloud.TagNodeClass)] = LabelValue(req.Class())
	return labels
}

// instanceName is a fresh GCE instance name for the offering:
// sky-<machine type>-<spot|od>-<8 random characters>, a valid name
// ([a-z]([-a-z0-9]*[a-z0-9])?, at most 63 characters).
func instanceName(o cloud.Offering) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	typ := strings.ReplaceAll(encodeLabel(o.InstanceType, '-'), "_", "-")
	typ = strings.Trim(collapseDashes(typ), "-")
	typ = strings.Trim(truncate(typ, 40), "-")
	capacity := "od"
	if o.Spot {
		capacity = "spot"
	}
	suffix := make([]byte, 8)
	for i := range suffix {
		suffix[i] = alphabet[rand.IntN(len(alphabet))]
	}
	parts := []string{"sky"}
	if typ != "" {
		parts = append(parts, typ)
	}
	return strings.Join(append(parts, capacity, string(suffix)), "-")
}

func collapseDashes(s string) string {
	for strings.Contains(s, "--") {
		s = strings.ReplaceAll(s, "--", "-")
	}
	return s
}
