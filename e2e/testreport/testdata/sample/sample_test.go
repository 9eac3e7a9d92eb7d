package sample

import "testing"

func TestPasses(t *testing.T) { t.Log("real agent: NOMAD_ADDR=http://127.0.0.1:1") }

func TestSkips(t *testing.T) { t.Skip("no GPU here") }

func TestFails(t *testing.T) {
	t.Log("real agent: NOMAD_ADDR=http://127.0.0.1:1")
	t.Error("the job ended FAILED")
}

func TestScenario(t *testing.T) {
	t.Run("local", func(t *testing.T) {})
	t.Run("nomad", func(t *testing.T) { t.Log("real agent: NOMAD_ADDR=http://127.0.0.1:1") })
}
