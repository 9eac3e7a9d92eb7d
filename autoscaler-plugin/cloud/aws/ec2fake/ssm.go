package ec2fake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// serveSSM answers the SSM API (AWS JSON 1.1) on the same server: only
// GetParameter, from Options.AMIs. m is the Authorization header's
// credential scope match (nil: unsigned).
func (s *Server) serveSSM(w http.ResponseWriter, r *http.Request, target string, m []string, reqID string) {
	var in struct {
		Name           string
		WithDecryption bool
	}
	err := json.NewDecoder(r.Body).Decode(&in)
	action := strings.TrimPrefix(target, "AmazonSSM.")
	s.record(action, url.Values{"Name": {in.Name}})
	switch {
	case m == nil:
		writeJSONError(w, reqID, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return
	case target != "AmazonSSM.GetParameter":
		writeJSONError(w, reqID, http.StatusBadRequest, "UnknownOperationException", "ec2fake serves AmazonSSM.GetParameter only, not "+target)
		return
	case err != nil || in.Name == "":
		writeJSONError(w, reqID, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null")
		return
	}
	ami, ok := s.opts.AMIs[in.Name]
	if !ok {
		writeJSONError(w, reqID, http.StatusBadRequest, "ParameterNotFound", "")
		return
	}
	region := m[1]
	resp := map[string]any{"Parameter": map[string]any{
		"ARN":              "arn:aws:ssm:" + region + "::parameter" + in.Name,
		"DataType":         "text",
		"LastModifiedDate": 1.7e9,
		"Name":             in.Name,
		"Type":             "String",
		"Value":            ami,
		"Version":          1,
	}}
	writeJSON(w, reqID, http.StatusOK, resp)
}

func writeJSONError(w http.ResponseWriter, reqID string, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSON(w, reqID, status, map[string]string{"__type": code, "message": message})
}

func writeJSON(w http.ResponseWriter, reqID string, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", reqID)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
