package gcefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
)

// apiBase is where GCE's self links point.
const apiBase = "https://www.googleapis.com/compute/v1/"

// timeLayout is GCE's timestamp format (RFC 3339 with milliseconds).
const timeLayout = "2006-01-02T15:04:05.000-07:00"

// Options configure a Server; the zero value is a usable default.
type Options struct {
	Project string // default "skynomad-test"
	// Zones maps each region to its zones; default: us-central1 a, b, c,
	// f; us-east1 b, c, d; us-west1 a, b, c; europe-west4 a, b, c;
	// asia-southeast1 a, b, c.
	Zones map[string][]string
	// NotOffered maps a machine type to the zones that do not offer it: an
	// insert there fails as GCE's does for a type the zone lacks.
	NotOffered map[string][]string
	// BootDelay is how long an instance is PROVISIONING, then STAGING,
	// before it is RUNNING.
	BootDelay time.Duration
	Hooks     cloudfake.Hooks
	// Now is the fake's clock; default time.Now.
	Now func() time.Time
}

func defaultZones() map[string][]string {
	return map[string][]string{
		"us-central1":     {"us-central1-a", "us-central1-b", "us-central1-c", "us-central1-f"},
		"us-east1":        {"us-east1-b", "us-east1-c", "us-east1-d"},
		"us-west1":        {"us-west1-a", "us-west1-b", "us-west1-c"},
		"europe-west4":    {"europe-west4-a", "europe-west4-b", "europe-west4-c"},
		"asia-southeast1": {"asia-southeast1-a", "asia-southeast1-b", "asia-southeast1-c"},
	}
}

// Server is a fake GCE control plane on 127.0.0.1.
type Server struct {
	opts     Options
	http     *httptest.Server
	refusals cloudfake.Refusals
	region   map[string]string // zone → region

	mu        sync.Mutex
	instances map[string]*instance // by "<zone>/<name>", also those gone
	order     []string             // instance keys in launch order
	ops       map[string]*apiOperation
	calls     map[string]int
	seq       uint64
}

type instance struct {
	res     apiInstance // as served, but for Status
	created time.Time
	spot    bool
	gone    bool // deleted, or preempted with DELETE
	stopped bool // preempted with STOP: TERMINATED
}

// New starts a Server; Close stops it.
func New(o Options) *Server {
	if o.Project == "" {
		o.Project = "skynomad-test"
	}
	if o.Zones == nil {
		o.Zones = defaultZones()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		opts:      o,
		region:    map[string]string{},
		instances: map[string]*instance{},
		ops:       map[string]*apiOperation{},
		calls:     map[string]int{},
	}
	for r, zones := range o.Zones {
		for _, z := range zones {
			s.region[z] = r
		}
	}
	const p = "/compute/v1/projects/{project}"
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+p+"/zones/{zone}/instances", s.insert)
	mux.HandleFunc("GET "+p+"/zones/{zone}/instances", s.list)
	mux.HandleFunc("GET "+p+"/zones/{zone}/instances/{name}", s.get)
	mux.HandleFunc("DELETE "+p+"/zones/{zone}/instances/{name}", s.delete)
	mux.HandleFunc("GET "+p+"/aggregated/instances", s.aggregatedList)
	mux.HandleFunc("GET "+p+"/zones/{zone}/operations/{op}", s.getOperation("zoneOperations.get"))
	mux.HandleFunc("POST "+p+"/zones/{zone}/operations/{op}/wait", s.getOperation("zoneOperations.wait"))
	mux.HandleFunc("GET "+p+"/regions/{region}", s.getRegion)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("gcefake: %s %s is not implemented", r.Method, r.URL.Path))
	})
	s.http = httptest.NewServer(mux)
	return s
}

// URL is the value for gcp_endpoint (the client adds /compute/v1/…).
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Refusals are the launches the fake refuses (see the package doc for how
// each code is reported).
func (s *Server) Refusals() *cloudfake.Refusals { return &s.refusals }

// Calls returns how many requests a method got, e.g. "instances.insert",
// "instances.aggregatedList", "zoneOperations.get", "regions.get".
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method]
}

// Machines returns every instance the fake launched, in launch order, gone
// ones with State "terminated". ID is "<zone>/<name>", Tags the labels,
// Bootstrap the startup-script.
func (s *Server) Machines() []cloudfake.Machine {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.opts.Now()
	out := make([]cloudfake.Machine, 0, len(s.order))
	for _, k := range s.order {
		out = append(out, s.machine(s.instances[k], now))
	}
	return out
}

// Preempt has GCE preempt the spot instance id ("<zone>/<name>"): with
// instanceTerminationAction DELETE (or none) it is gone, with STOP it is
// TERMINATED; Hooks.Terminate runs. An unknown, gone or on-demand instance
// is left alone.
func (s *Server) Preempt(id string) {
	s.mu.Lock()
	in, ok := s.instances[id]
	if !ok || in.gone || in.stopped || !in.spot {
		s.mu.Unlock()
		return
	}
	if in.res.Scheduling != nil && in.res.Scheduling.InstanceTerminationAction == "STOP" {
		in.stopped = true
	} else {
		in.gone = true
	}
	m := s.machine(in, s.opts.Now())
	s.mu.Unlock()
	if h := s.opts.Hooks.Terminate; h != nil {
		go h(m)
	}
}

// status is an instance's GCE status now.
func (s *Server) status(in *instance, now time.Time) string {
	switch age := now.Sub(in.created); {
	case in.stopped:
		return "TERMINATED"
	case age < s.opts.BootDelay/2:
		return "PROVISIONING"
	case age < s.opts.BootDelay:
		return "STAGING"
	}
	return "RUNNING"
}

func (s *Server) machine(in *instance, now time.Time) cloudfake.Machine {
	state := "running"
	switch st := s.status(in, now); {
	case in.gone || st == "TERMINATED":
		state = "terminated"
	case st != "RUNNING":
		state = "pending"
	}
	zone := path.Base(in.res.Zone)
	m := cloudfake.Machine{
		Cloud:        "gcp",
		ID:           zone + "/" + in.res.Name,
		Zone:         zone,
		InstanceType: path.Base(in.res.MachineType),
		Spot:         in.spot,
		Tags:         map[string]string{},
		Created:      in.created,
		State:        state,
	}
	for k, v := range in.res.Labels {
		m.Tags[k] = v
	}
	if in.res.Metadata != nil {
		for _, it := range in.res.Metadata.Items {
			if it.Key == "startup-script" {
				m.Bootstrap = it.Value
			}
		}
	}
	return m
}

// served is the instance as GCE would return it now.
func (s *Server) served(in *instance, now time.Time) apiInstance {
	r := in.res
	r.Status = s.status(in, now)
	return r
}

var (
	nameRE       = regexp.MustCompile(`^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$`)
	labelKeyRE   = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)
	labelValueRE = regexp.MustCompile(`^[a-z0-9_-]{0,63}$`)
	machineRE    = regexp.MustCompile(`(?:^|/)zones/([^/]+)/machineTypes/([^/]+)$`)
)

func (s *Server) insert(w http.ResponseWriter, r *http.Request) {
	project, zone, ok := s.scope(w, r, "instances.insert")
	if !ok {
		return
	}
	var req apiInstance
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		writeError(w, http.StatusBadRequest, "parseError", "Invalid JSON payload received. "+err.Error())
		return
	}
	if !nameRE.MatchString(req.Name) {
		invalid(w, "resource.name", req.Name, "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|[1-9][0-9]{0,19})'")
		return
	}
	mt := machineRE.FindStringSubmatch(req.MachineType)
	if mt == nil {
		invalid(w, "resource.machineType", req.MachineType, "Must be a URL to a machine type: zones/<zone>/machineTypes/<type>.")
		return
	}
	if mt[1] != zone {
		invalid(w, "resource.machineType", req.MachineType, fmt.Sprintf("Machine type must be in zone '%s'.", zone))
		return
	}
	machineType := mt[2]
	if slices.Contains(s.opts.NotOffered[machineType], zone) {
		invalid(w, "resource.machineType", req.MachineType,
			fmt.Sprintf("Machine type with name '%s' does not exist in zone '%s'.", machineType, zone))
		return
	}
	for k, v := range req.Labels {
		if !labelKeyRE.MatchString(k) || !labelValueRE.MatchString(v) {
			invalid(w, "resource.labels", "", fmt.Sprintf("Label %q=%q violates format constraints. Keys and values may hold only lowercase letters, digits, '_' and '-', at most 63 characters, and a key must start with a lowercase letter.", k, v))
			return
		}
	}
	if msg := checkDisks(req.Disks); msg != "" {
		invalid(w, "resource.disks", "", msg)
		return
	}
	if len(req.NetworkInterfaces) == 0 {
		invalid(w, "resource.networkInterfaces", "", "At least one network interface is required.")
		return
	}
	sched := req.Scheduling
	spot := sched != nil && (sched.ProvisioningModel == "SPOT" || sched.Preemptible)
	if spot && sched.AutomaticRestart != nil && *sched.AutomaticRestart {
		invalid(w, "resource.scheduling.automaticRestart", "true", "Spot and preemptible instances cannot be restarted automatically.")
		return
	}
	if spot && sched.OnHostMaintenance == "MIGRATE" {
		invalid(w, "resource.scheduling.onHostMaintenance", "MIGRATE", "Spot and preemptible instances must terminate on host maintenance.")
		return
	}

	s.mu.Lock()
	key := zone + "/" + req.Name
	if in, ok := s.instances[key]; ok && !in.gone {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, "alreadyExists",
			fmt.Sprintf("The resource 'projects/%s/zones/%s/instances/%s' already exists", project, zone, req.Name))
		return
	}
	now := s.opts.Now()
	s.seq++
	seq := s.seq
	selfLink := fmt.Sprintf("%sprojects/%s/zones/%s/instances/%s", apiBase, project, zone, req.Name)
	op := s.newOperation(project, zone, "insert", selfLink, now)
	refusal, refused := s.refusals.Find(zone, machineType, spot)
	if refused && !isOperationCode(refusal.Code) {
		s.mu.Unlock()
		status := http.StatusBadRequest
		if refusal.Code == "quotaExceeded" || refusal.Code == "rateLimitExceeded" {
			status = http.StatusForbidden
		}
		writeError(w, status, refusal.Code, refusalMessage(refusal, project, zone, machineType, spot))
		return
	}
	if refused {
		op.Error = &apiOpErrors{Errors: []apiOpError{{Code: refusal.Code, Message: refusalMessage(refusal, project, zone, machineType, spot)}}}
		op.HTTPErrorStatusCode, op.HTTPErrorMessage = operationStatus(refusal.Code)
		s.ops[zone+"/"+op.Name] = op
		pending := *op
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, pendingView(pending))
		return
	}
	in := &instance{res: s.stored(req, project, zone, machineType, seq, now), created: now, spot: spot}
	op.TargetID = in.res.ID
	s.instances[key] = in
	s.order = append(s.order, key)
	s.ops[zone+"/"+op.Name] = op
	pending := *op
	m := s.machine(in, now)
	s.mu.Unlock()
	if h := s.opts.Hooks.Boot; h != nil {
		go h(m)
	}
	writeJSON(w, http.StatusOK, pendingView(pending))
}

// checkDisks returns why GCE would refuse the disks, or "".
func checkDisks(disks []apiDisk) string {
	for i, d := range disks {
		if !d.Boot {
			continue
		}
		if d.Source == "" && (d.InitializeParams == nil || d.InitializeParams.SourceImage == "") {
			return fmt.Sprintf("Boot disk %d needs a source or initializeParams.sourceImage.", i)
		}
		if d.InitializeParams != nil && d.InitializeParams.DiskSizeGb != 0 && d.InitializeParams.DiskSizeGb < 10 {
			return fmt.Sprintf("Disk size '%d GB' is smaller than the image size or the 10 GB minimum.", d.InitializeParams.DiskSizeGb)
		}
		return ""
	}
	return "Boot disk must be specified."
}

// stored is the instance GCE keeps for an insert: what was asked, with the
// server's fields filled (scheduling and the boot disk's initializeParams
// are kept as sent, without GCE's defaults).
func (s *Server) stored(req apiInstance, project, zone, machineType string, seq uint64, now time.Time) apiInstance {
	in := req
	in.Kind = "compute#instance"
	in.ID = strconv.FormatUint(7_000_000_000_000_000_000+seq, 10)
	in.CreationTimestamp = now.Format(timeLayout)
	in.Zone = fmt.Sprintf("%sprojects/%s/zones/%s", apiBase, project, zone)
	in.MachineType = fmt.Sprintf("%sprojects/%s/zones/%s/machineTypes/%s", apiBase, project, zone, machineType)
	in.SelfLink = fmt.Sprintf("%sprojects/%s/zones/%s/instances/%s", apiBase, project, zone, req.Name)
	in.LabelFingerprint = fmt.Sprintf("%016x", seq)
	in.Disks = slices.Clone(req.Disks)
	for i := range in.Disks {
		d := &in.Disks[i]
		name := req.Name
		if i > 0 {
			name = fmt.Sprintf("%s-%d", req.Name, i)
		}
		if d.Source == "" {
			d.Source = fmt.Sprintf("%sprojects/%s/zones/%s/disks/%s", apiBase, project, zone, name)
		}
		d.DeviceName = fmt.Sprintf("persistent-disk-%d", i)
		d.Mode = "READ_WRITE"
		if d.InitializeParams != nil && d.InitializeParams.DiskSizeGb != 0 {
			d.DiskSizeGb = d.InitializeParams.DiskSizeGb
		}
	}
	in.NetworkInterfaces = slices.Clone(req.NetworkInterfaces)
	for i := range in.NetworkInterfaces {
		n := &in.NetworkInterfaces[i]
		n.Name = fmt.Sprintf("nic%d", i)
		n.Network = fullURL(project, n.Network)
		if n.Subnetwork != "" {
			n.Subnetwork = fullURL(project, n.Subnetwork)
		}
		n.NetworkIP = fmt.Sprintf("10.128.%d.%d", seq/250, seq%250+2)
		n.AccessConfigs = slices.Clone(n.AccessConfigs)
		for j := range n.AccessConfigs {
			a := &n.AccessConfigs[j]
			a.Kind = "compute#accessConfig"
			a.NatIP = fmt.Sprintf("34.%d.%d.%d", 100+i, seq/250, seq%250+2)
		}
	}
	if req.Metadata != nil {
		md := *req.Metadata
		md.Kind = "compute#metadata"
		md.Fingerprint = fmt.Sprintf("%016x", seq)
		md.Items = slices.Clone(md.Items)
		in.Metadata = &md
	}
	if req.Scheduling != nil {
		sc := *req.Scheduling
		in.Scheduling = &sc
	}
	in.Labels = map[string]string{}
	for k, v := range req.Labels {
		in.Labels[k] = v
	}
	return in
}

// fullURL turns a partial resource path (global/networks/default,
// regions/r/subnetworks/s, projects/p/…) into the URL GCE returns.
func fullURL(project, p string) string {
	switch {
	case p == "" || strings.HasPrefix(p, "https://"):
		return p
	case strings.HasPrefix(p, "projects/"):
		return apiBase + p
	}
	return apiBase + "projects/" + project + "/" + p
}

// isOperationCode reports whether a refusal code is one GCE puts in an
// operation's errors (UPPER_SNAKE) rather than an HTTP error's reason.
func isOperationCode(code string) bool {
	return code != "" && strings.ToUpper(code) == code
}

// operationStatus is the HTTP status GCE records on an operation that
// failed with code.
func operationStatus(code string) (int, string) {
	switch {
	case strings.HasPrefix(code, "ZONE_RESOURCE_POOL_EXHAUSTED"):
		return http.StatusServiceUnavailable, "SERVICE UNAVAILABLE"
	case code == "QUOTA_EXCEEDED":
		return http.StatusForbidden, "FORBIDDEN"
	}
	return http.StatusBadRequest, "BAD REQUEST"
}

// refusalMessage is the refusal's message, or GCE's usual one for its code.
func refusalMessage(r cloudfake.Refusal, project, zone, machineType string, spot bool) string {
	if r.Message != "" {
		return r.Message
	}
	switch r.Code {
	case "ZONE_RESOURCE_POOL_EXHAUSTED":
		return fmt.Sprintf("The zone 'projects/%s/zones/%s' does not have enough resources available to fulfill the request.  Try a different zone, or try again later.", project, zone)
	case "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS":
		return fmt.Sprintf("The zone 'projects/%s/zones/%s' does not have enough resources available to fulfill the request.  '(resource type:compute)'.", project, zone)
	case "QUOTA_EXCEEDED", "quotaExceeded":
		metric := "CPUS"
		if spot {
			metric = "PREEMPTIBLE_CPUS"
		}
		region := zone
		if i := strings.LastIndex(zone, "-"); i > 0 {
			region = zone[:i]
		}
		return fmt.Sprintf("Quota '%s' exceeded.  Limit: 24.0 in region %s.", metric, region)
	case "UNSUPPORTED_OPERATION":
		return fmt.Sprintf("The requested configuration of machine type %s is not supported in zone %s.", machineType, zone)
	case "rateLimitExceeded":
		return "Rate Limit Exceeded"
	}
	return r.Code
}

// newOperation records nothing: it returns a zone operation, DONE, for the
// caller to finish and store.
func (s *Server) newOperation(project, zone, kind, target string, now time.Time) *apiOperation {
	name := fmt.Sprintf("operation-%d-%08x", now.UnixMilli(), s.seq)
	t := now.Format(timeLayout)
	return &apiOperation{
		Kind:          "compute#operation",
		ID:            strconv.FormatUint(5_000_000_000_000_000_000+s.seq, 10),
		Name:          name,
		Zone:          fmt.Sprintf("%sprojects/%s/zones/%s", apiBase, project, zone),
		OperationType: kind,
		TargetLink:    target,
		Status:        "DONE",
		User:          "skynomad@" + project + ".iam.gserviceaccount.com",
		Progress:      100,
		InsertTime:    t,
		StartTime:     t,
		EndTime:       t,
		SelfLink:      fmt.Sprintf("%sprojects/%s/zones/%s/operations/%s", apiBase, project, zone, name),
	}
}

// pendingView is how an operation reads when it has just been accepted.
func pendingView(op apiOperation) apiOperation {
	op.Status, op.Progress, op.StartTime, op.EndTime = "PENDING", 0, "", ""
	op.Error, op.HTTPErrorStatusCode, op.HTTPErrorMessage = nil, 0, ""
	return op
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	project, zone, ok := s.scope(w, r, "instances.get")
	if !ok {
		return
	}
	name := r.PathValue("name")
	s.mu.Lock()
	in, found := s.instances[zone+"/"+name]
	var res apiInstance
	if found && !in.gone {
		res = s.served(in, s.opts.Now())
	}
	s.mu.Unlock()
	if !found || in.gone {
		notFound(w, fmt.Sprintf("projects/%s/zones/%s/instances/%s", project, zone, name))
		return
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	project, zone, ok := s.scope(w, r, "instances.list")
	if !ok {
		return
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid list filter expression: "+err.Error())
		return
	}
	s.mu.Lock()
	items := s.matching(zone, f, s.opts.Now())
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, apiInstanceList{
		Kind:     "compute#instanceList",
		ID:       fmt.Sprintf("projects/%s/zones/%s/instances", project, zone),
		Items:    items,
		SelfLink: fmt.Sprintf("%sprojects/%s/zones/%s/instances", apiBase, project, zone),
	})
}

// matching returns the instances of zone that are not gone and pass f, by
// name. The caller holds s.mu.
func (s *Server) matching(zone string, f filter, now time.Time) []apiInstance {
	var out []apiInstance
	for _, k := range s.order {
		in := s.instances[k]
		if in.gone || path.Base(in.res.Zone) != zone {
			continue
		}
		if res := s.served(in, now); f.matches(&res) {
			out = append(out, res)
		}
	}
	slices.SortFunc(out, func(a, b apiInstance) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Server) aggregatedList(w http.ResponseWriter, r *http.Request) {
	project, ok := s.project(w, r, "instances.aggregatedList")
	if !ok {
		return
	}
	f, err := parseFilter(r.URL.Query().Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid", "Invalid list filter expression: "+err.Error())
		return
	}
	zones := make([]string, 0, len(s.region))
	for z := range s.region {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	items := map[string]apiScopedList{}
	s.mu.Lock()
	now := s.opts.Now()
	for _, z := range zones {
		scope := "zones/" + z
		if got := s.matching(z, f, now); len(got) > 0 {
			items[scope] = apiScopedList{Instances: got}
			continue
		}
		items[scope] = apiScopedList{Warning: &apiWarning{
			Code:    "NO_RESULTS_ON_PAGE",
			Message: fmt.Sprintf("There are no results for scope '%s' on this page.", scope),
			Data:    []apiItem{{Key: "scope", Value: scope}},
		}}
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, apiAggregatedList{
		Kind:     "compute#instanceAggregatedList",
		ID:       "projects/" + project + "/aggregated/instances",
		Items:    items,
		SelfLink: apiBase + "projects/" + project + "/aggregated/instances",
	})
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request) {
	project, zone, ok := s.scope(w, r, "instances.delete")
	if !ok {
		return
	}
	name := r.PathValue("name")
	s.mu.Lock()
	in, found := s.instances[zone+"/"+name]
	if !found || in.gone {
		s.mu.Unlock()
		notFound(w, fmt.Sprintf("projects/%s/zones/%s/instances/%s", project, zone, name))
		return
	}
	now := s.opts.Now()
	s.seq++
	in.gone = true
	op := s.newOperation(project, zone, "delete", in.res.SelfLink, now)
	op.TargetID = in.res.ID
	s.ops[zone+"/"+op.Name] = op
	pending := *op
	m := s.machine(in, now)
	s.mu.Unlock()
	if h := s.opts.Hooks.Terminate; h != nil {
		go h(m)
	}
	writeJSON(w, http.StatusOK, pendingView(pending))
}

func (s *Server) getOperation(method string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		project, zone, ok := s.scope(w, r, method)
		if !ok {
			return
		}
		name := r.PathValue("op")
		s.mu.Lock()
		op, found := s.ops[zone+"/"+name]
		var res apiOperation
		if found {
			res = *op
		}
		s.mu.Unlock()
		if !found {
			notFound(w, fmt.Sprintf("projects/%s/zones/%s/operations/%s", project, zone, name))
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

func (s *Server) getRegion(w http.ResponseWriter, r *http.Request) {
	project, ok := s.project(w, r, "regions.get")
	if !ok {
		return
	}
	name := r.PathValue("region")
	zones, found := s.opts.Zones[name]
	if !found {
		notFound(w, fmt.Sprintf("projects/%s/regions/%s", project, name))
		return
	}
	res := apiRegion{
		Kind:     "compute#region",
		ID:       strconv.Itoa(1000 + len(name)),
		Name:     name,
		Status:   "UP",
		SelfLink: fmt.Sprintf("%sprojects/%s/regions/%s", apiBase, project, name),
	}
	for _, z := range zones {
		res.Zones = append(res.Zones, fmt.Sprintf("%sprojects/%s/zones/%s", apiBase, project, z))
	}
	writeJSON(w, http.StatusOK, res)
}

// project counts the call and checks the path's project.
func (s *Server) project(w http.ResponseWriter, r *http.Request, method string) (string, bool) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
	p := r.PathValue("project")
	if p != s.opts.Project {
		notFound(w, "projects/"+p)
		return "", false
	}
	return p, true
}

// scope counts the call and checks the path's project and zone.
func (s *Server) scope(w http.ResponseWriter, r *http.Request, method string) (project, zone string, ok bool) {
	if project, ok = s.project(w, r, method); !ok {
		return "", "", false
	}
	zone = r.PathValue("zone")
	if _, known := s.region[zone]; !known {
		invalid(w, "zone", zone, "Unknown zone.")
		return "", "", false
	}
	return project, zone, true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeError writes GCE's error body.
func writeError(w http.ResponseWriter, status int, reason, message string) {
	domain := "global"
	if reason == "quotaExceeded" || reason == "rateLimitExceeded" {
		domain = "usageLimits"
	}
	writeJSON(w, status, apiErrorReply{Error: apiError{
		Code:    status,
		Message: message,
		Errors:  []apiErrorItem{{Message: message, Domain: domain, Reason: reason}},
	}})
}

func invalid(w http.ResponseWriter, field, value, why string) {
	writeError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Invalid value for field '%s': '%s'. %s", field, value, why))
}

func notFound(w http.ResponseWriter, resource string) {
	writeError(w, http.StatusNotFound, "notFound", fmt.Sprintf("The resource '%s' was not found", resource))
}
