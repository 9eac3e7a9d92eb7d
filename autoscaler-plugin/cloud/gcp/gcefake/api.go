package gcefake

// The Compute Engine v1 JSON resources, the fields the fake reads or
// writes. Names follow https://cloud.google.com/compute/docs/reference/rest/v1.

type apiInstance struct {
	Kind              string            `json:"kind,omitempty"`
	ID                string            `json:"id,omitempty"` // uint64, as a string
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	Name              string            `json:"name"`
	MachineType       string            `json:"machineType"`
	Status            string            `json:"status,omitempty"`
	Zone              string            `json:"zone,omitempty"`
	SelfLink          string            `json:"selfLink,omitempty"`
	Disks             []apiDisk         `json:"disks,omitempty"`
	NetworkInterfaces []apiNIC          `json:"networkInterfaces,omitempty"`
	ServiceAccounts   []apiServiceAcct  `json:"serviceAccounts,omitempty"`
	Metadata          *apiMetadata      `json:"metadata,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	LabelFingerprint  string            `json:"labelFingerprint,omitempty"`
	Scheduling        *apiScheduling    `json:"scheduling,omitempty"`
	Tags              *apiTags          `json:"tags,omitempty"`
}

type apiTags struct {
	Items []string `json:"items,omitempty"`
}

type apiDisk struct {
	Type             string         `json:"type,omitempty"`
	Mode             string         `json:"mode,omitempty"`
	Source           string         `json:"source,omitempty"`
	DeviceName       string         `json:"deviceName,omitempty"`
	Boot             bool           `json:"boot,omitempty"`
	AutoDelete       bool           `json:"autoDelete,omitempty"`
	DiskSizeGb       int64          `json:"diskSizeGb,string,omitempty"`
	InitializeParams *apiInitParams `json:"initializeParams,omitempty"`
}

type apiInitParams struct {
	SourceImage string `json:"sourceImage,omitempty"`
	DiskSizeGb  int64  `json:"diskSizeGb,string,omitempty"`
	DiskType    string `json:"diskType,omitempty"`
}

type apiNIC struct {
	Name          string            `json:"name,omitempty"`
	Network       string            `json:"network,omitempty"`
	Subnetwork    string            `json:"subnetwork,omitempty"`
	NetworkIP     string            `json:"networkIP,omitempty"`
	AccessConfigs []apiAccessConfig `json:"accessConfigs,omitempty"`
}

type apiAccessConfig struct {
	Kind  string `json:"kind,omitempty"`
	Name  string `json:"name,omitempty"`
	Type  string `json:"type,omitempty"`
	NatIP string `json:"natIP,omitempty"`
}

type apiServiceAcct struct {
	Email  string   `json:"email,omitempty"`
	Scopes []string `json:"scopes,omitempty"`
}

type apiMetadata struct {
	Kind        string    `json:"kind,omitempty"`
	Fingerprint string    `json:"fingerprint,omitempty"`
	Items       []apiItem `json:"items,omitempty"`
}

type apiItem struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type apiScheduling struct {
	OnHostMaintenance         string `json:"onHostMaintenance,omitempty"`
	AutomaticRestart          *bool  `json:"automaticRestart,omitempty"`
	Preemptible               bool   `json:"preemptible,omitempty"`
	ProvisioningModel         string `json:"provisioningModel,omitempty"`
	InstanceTerminationAction string `json:"instanceTerminationAction,omitempty"`
}

type apiOperation struct {
	Kind                string       `json:"kind"`
	ID                  string       `json:"id"`
	Name                string       `json:"name"`
	Zone                string       `json:"zone"`
	OperationType       string       `json:"operationType"`
	TargetLink          string       `json:"targetLink"`
	TargetID            string       `json:"targetId,omitempty"`
	Status              string       `json:"status"`
	User                string       `json:"user"`
	Progress            int          `json:"progress"`
	InsertTime          string       `json:"insertTime"`
	StartTime           string       `json:"startTime,omitempty"`
	EndTime             string       `json:"endTime,omitempty"`
	SelfLink            string       `json:"selfLink"`
	Error               *apiOpErrors `json:"error,omitempty"`
	HTTPErrorStatusCode int          `json:"httpErrorStatusCode,omitempty"`
	HTTPErrorMessage    string       `json:"httpErrorMessage,omitempty"`
}

type apiOpErrors struct {
	Errors []apiOpError `json:"errors"`
}

type apiOpError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type apiInstanceList struct {
	Kind     string        `json:"kind"`
	ID       string        `json:"id"`
	Items    []apiInstance `json:"items,omitempty"`
	SelfLink string        `json:"selfLink"`
}

type apiAggregatedList struct {
	Kind     string                   `json:"kind"`
	ID       string                   `json:"id"`
	Items    map[string]apiScopedList `json:"items"`
	SelfLink string                   `json:"selfLink"`
}

type apiScopedList struct {
	Instances []apiInstance `json:"instances,omitempty"`
	Warning   *apiWarning   `json:"warning,omitempty"`
}

type apiWarning struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Data    []apiItem `json:"data,omitempty"`
}

type apiRegion struct {
	Kind     string   `json:"kind"`
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Status   string   `json:"status"`
	Zones    []string `json:"zones"`
	SelfLink string   `json:"selfLink"`
}

// apiErrorReply is the body of an HTTP error.
type apiErrorReply struct {
	Error apiError `json:"error"`
}

type apiError struct {
	Code    int            `json:"code"`
	Message string         `json:"message"`
	Errors  []apiErrorItem `json:"errors"`
}

type apiErrorItem struct {
	Message string `json:"message"`
	Domain  string `json:"domain"`
	Reason  string `json:"reason"`
}
