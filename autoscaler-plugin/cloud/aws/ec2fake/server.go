package ec2fake

import (
	"encoding/xml"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/skynomad/skynomad/autoscaler-plugin/cloud/cloudfake"
)

// The API the fake speaks.
const (
	APIVersion = "2016-11-15"
	Namespace  = "http://ec2.amazonaws.com/doc/2016-11-15/"
)

// DefaultSSMParameter and DefaultAMI make up Options.AMIs when it is nil:
// the parameter cloud/aws reads by default, holding a made-up AMI ID.
const (
	DefaultSSMParameter = "/aws/service/canonical/ubuntu/server/22.04/stable/current/amd64/hvm/ebs-gp2/ami-id"
	DefaultAMI          = "ami-0fa4e0000000000a1"
)

// ownerID is the account every fake instance belongs to.
const ownerID = "123456789012"

// Options shape the fake's region.
type Options struct {
	// Zones are each region's zones; a region not listed has
	// <region>a, <region>b and <region>c.
	Zones map[string][]string
	// NotOffered lists, per instance type, the zones that do not offer it.
	NotOffered map[string][]string
	// Subnets maps subnet IDs to their zones; RunInstances into a subnet
	// not listed fails with InvalidSubnetID.NotFound.
	Subnets map[string]string
	// BootDelay is how long an instance stays pending (and shutting-down)
	// before it is running (terminated); 0: until the fake next answers
	// RunInstances, DescribeInstances or TerminateInstances.
	BootDelay time.Duration
	// Hooks run when instances boot and end.
	Hooks cloudfake.Hooks
	// AMIs maps SSM parameter names to AMI IDs for GetParameter; nil:
	// DefaultSSMParameter → DefaultAMI.
	AMIs map[string]string
	// Now is the fake's clock; nil: time.Now.
	Now func() time.Time
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	opts     Options
	http     *httptest.Server
	refusals cloudfake.Refusals

	mu        sync.Mutex
	instances []*instance          // in launch order
	byID      map[string]*instance //
	tokens    map[string][]string  // region/client token → the instance IDs it launched
	calls     map[string]int
	requests  map[string][]url.Values
	seq       uint64
}

// instance is one EC2 instance as the fake keeps it.
type instance struct {
	id, region, zone, instanceType, image string
	reservation, clientToken, privateIP   string
	subnet, keyName, profile              string
	groups                                []string
	spot                                  bool
	tags                                  []tag // in request order
	userData                              string
	launched                              time.Time
	state                                 string    // EC2 state name
	changed                               time.Time // when state last changed
	stateReason                           string
}

type tag struct{ key, value string }

// New starts a fake on 127.0.0.1; Close stops it.
func New(o Options) *Server {
	if o.AMIs == nil {
		o.AMIs = map[string]string{DefaultSSMParameter: DefaultAMI}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Server{
		opts:     o,
		byID:     map[string]*instance{},
		tokens:   map[string][]string{},
		calls:    map[string]int{},
		requests: map[string][]url.Values{},
	}
	s.http = httptest.NewServer(s) // listens on 127.0.0.1
	return s
}

// URL is the endpoint to give the SDK (BaseEndpoint, Config.Endpoint).
func (s *Server) URL() string { return s.http.URL }

// Close stops the server.
func (s *Server) Close() { s.http.Close() }

// Refusals are the launches the fake refuses; a refusal's Code and Message
// come back as EC2's error (a default message when Message is empty).
func (s *Server) Refusals() *cloudfake.Refusals { return &s.refusals }

// Calls is how many requests named action (RunInstances, GetParameter, …)
// the fake has received, refused or not.
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// Requests returns the decoded parameters of every request of action, in
// order (GetParameter's as Name).
func (s *Server) Requests(action string) []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, 0, len(s.requests[action]))
	for _, v := range s.requests[action] {
		out = append(out, url.Values(maps.Clone(v)))
	}
	return out
}

// Machines returns every instance ever launched, in launch order, with its
// current state.
func (s *Server) Machines() []cloudfake.Machine {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance()
	out := make([]cloudfake.Machine, 0, len(s.instances))
	for _, i := range s.instances {
		out = append(out, i.machine())
	}
	return out
}

// Preempt interrupts a spot instance: it is terminated at once (state
// reason Server.SpotInstanceTermination) and Hooks.Terminate runs. An
// unknown or already terminated instance is left alone.
func (s *Server) Preempt(id string) {
	s.mu.Lock()
	i, ok := s.byID[id]
	if !ok || i.state == "terminated" {
		s.mu.Unlock()
		return
	}
	i.state, i.changed = "terminated", s.opts.Now()
	i.stateReason = "Server.SpotInstanceTermination"
	m := i.machine()
	s.mu.Unlock()
	if h := s.opts.Hooks.Terminate; h != nil {
		go h(m)
	}
}

func (i *instance) machine() cloudfake.Machine {
	tags := make(map[string]string, len(i.tags))
	for _, t := range i.tags {
		tags[t.key] = t.value
	}
	state := "terminating"
	switch i.state {
	case "pending", "running", "terminated":
		state = i.state
	}
	return cloudfake.Machine{
		Cloud: "aws", ID: i.id, Zone: i.zone, InstanceType: i.instanceType, Spot: i.spot,
		Tags: tags, Bootstrap: i.userData, Created: i.launched, State: state,
	}
}

// advance moves pending instances to running, and shutting-down ones to
// terminated, once BootDelay has passed. Called with s.mu held.
func (s *Server) advance() {
	now := s.opts.Now()
	for _, i := range s.instances {
		if now.Sub(i.changed) < s.opts.BootDelay {
			continue
		}
		switch i.state {
		case "pending":
			i.state, i.changed = "running", now
		case "shutting-down":
			i.state, i.changed = "terminated", now
		}
	}
}

// zones are region's zones.
func (s *Server) zones(region string) []string {
	if z, ok := s.opts.Zones[region]; ok {
		return z
	}
	return []string{region + "a", region + "b", region + "c"}
}

func (s *Server) offered(instanceType, zone string) bool {
	return !slices.Contains(s.opts.NotOffered[instanceType], zone)
}

// apiError is an EC2 (or SSM) error answer.
type apiError struct {
	status        int
	code, message string
}

func errorf(code, format string, args ...any) *apiError {
	return &apiError{status: statusOf(code), code: code, message: fmt.Sprintf(format, args...)}
}

// serverErrors are the codes the EC2 error-code page lists as server
// errors, which come with HTTP 500 (see the package doc).
var serverErrors = []string{
	"InsufficientAddressCapacity", "InsufficientCapacity", "InsufficientInstanceCapacity",
	"InsufficientHostCapacity", "InsufficientReservedInstanceCapacity", "InsufficientVolumeCapacity",
	"InternalError", "InternalFailure", "RequestLimitExceeded", "ServiceUnavailable", "Unavailable",
}

func statusOf(code string) int {
	switch {
	case code == "AuthFailure":
		return http.StatusUnauthorized
	case slices.Contains(serverErrors, code):
		return http.StatusInternalServerError
	default:
		return http.StatusBadRequest
	}
}

// scope matches the credential scope of a SigV4 Authorization header.
var scope = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=[^/]+/\d{8}/([a-z0-9-]+)/[a-z0-9-]+/aws4_request,`)

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m := scope.FindStringSubmatch(r.Header.Get("Authorization"))
	reqID := s.requestID()
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		s.serveSSM(w, r, target, m, reqID)
		return
	}
	if r.Method != http.MethodPost {
		writeError(w, reqID, errorf("InvalidAction", "The EC2 Query API takes POST requests, not %s.", r.Method))
		return
	}
	if err := r.ParseForm(); err != nil {
		writeError(w, reqID, errorf("MalformedQueryString", "%v", err))
		return
	}
	action := r.PostForm.Get("Action")
	s.record(action, r.PostForm)
	if m == nil {
		writeError(w, reqID, errorf("AuthFailure", "AWS was not able to validate the provided access credentials"))
		return
	}
	if v := r.PostForm.Get("Version"); v != APIVersion {
		writeError(w, reqID, errorf("NoSuchVersion", "An invalid or out-of-range value '%s' was specified for Version; ec2fake speaks %s.", v, APIVersion))
		return
	}
	region := m[1]
	var (
		resp any
		err  *apiError
	)
	switch action {
	case "RunInstances":
		resp, err = s.runInstances(reqID, region, r.PostForm)
	case "DescribeInstances":
		resp, err = s.describeInstances(reqID, region, r.PostForm)
	case "TerminateInstances":
		resp, err = s.terminateInstances(reqID, region, r.PostForm)
	case "DescribeInstanceTypeOfferings":
		resp, err = s.describeInstanceTypeOfferings(reqID, region, r.PostForm)
	case "DescribeImages":
		resp, err = s.describeImages(reqID, r.PostForm)
	case "":
		err = errorf("MissingAction", "The request must contain the parameter Action")
	default:
		err = errorf("InvalidAction", "The action %s is not valid for this web service.", action)
	}
	if err != nil {
		writeError(w, reqID, err)
		return
	}
	writeXML(w, http.StatusOK, resp)
}

func (s *Server) record(action string, v url.Values) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[action]++
	s.requests[action] = append(s.requests[action], url.Values(maps.Clone(v)))
}

// requestID makes an EC2-looking request ID.
func (s *Server) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq)
}

type xmlErrorResponse struct {
	XMLName   xml.Name `xml:"Response"`
	Code      string   `xml:"Errors>Error>Code"`
	Message   string   `xml:"Errors>Error>Message"`
	RequestID string   `xml:"RequestID"`
}

func writeError(w http.ResponseWriter, reqID string, e *apiError) {
	writeXML(w, e.status, xmlErrorResponse{Code: e.code, Message: e.message, RequestID: reqID})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// list returns the values of a flattened query list: prefix.1, prefix.2, …
func list(f url.Values, prefix string) []string {
	var out []string
	for n := 1; ; n++ {
		k := fmt.Sprintf("%s.%d", prefix, n)
		if _, ok := f[k]; !ok {
			return out
		}
		out = append(out, f.Get(k))
	}
}

// filter is one Filter.N of a Describe request.
type filter struct {
	name   string
	values []string
}

func filters(f url.Values) ([]filter, *apiError) {
	var out []filter
	for n := 1; ; n++ {
		p := fmt.Sprintf("Filter.%d", n)
		name := f.Get(p + ".Name")
		if name == "" {
			return out, nil
		}
		vals := list(f, p+".Value")
		if len(vals) == 0 {
			return nil, errorf("InvalidParameterValue", "The filter '%s' has no values", name)
		}
		out = append(out, filter{name: name, values: vals})
	}
}

// ids of instances: i- and 8 or 17 hex digits.
var instanceIDPattern = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

func notFound(ids []string) *apiError {
	if len(ids) == 1 {
		return errorf("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", ids[0])
	}
	return errorf("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", strings.Join(ids, ", "))
}
