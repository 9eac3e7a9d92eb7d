// Package providers builds the cloud.Provider of an offering's cloud from
// skynomad-target's config: cloud/aws for "aws", cloud/gcp for "gcp".
package providers

import (
	"context"
	"fmt"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/aws"
	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/gcp"
)

// New is target.NewProvider for the clouds skynomad provisions.
func New(ctx context.Context, o cloud.Offering, cfg map[string]string) (cloud.Provider, error) {
	switch o.Cloud {
	case "aws":
		c, err := aws.ConfigFromMap(cfg)
		if err != nil {
			return nil, err
		}
		return aws.New(ctx, o.Region, c)
	case "gcp":
		c, err := gcp.ConfigFromMap(cfg)
		if err != nil {
			return nil, err
		}
		return gcp.New(ctx, o.Region, c)
	}
	return nil, fmt.Errorf("cloud: %q has no provider; skynomad-target provisions aws and gcp", o.Cloud)
}
