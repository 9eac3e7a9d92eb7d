package metrics

import "time"

// SetScrapeTimeout shortens the bound on the Source (2 s) for a test; call
// it before the first scrape.
func SetScrapeTimeout(m *Metrics, d time.Duration) { m.scrape.timeout = d }
