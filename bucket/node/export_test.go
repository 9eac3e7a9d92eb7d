package node

// RclonePIDs returns the pids of m's rclone mount processes.
func RclonePIDs(m *Mounts) []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	var pids []int
	for _, mt := range m.mounts {
		if mt.cmd != nil {
			pids = append(pids, mt.cmd.Process.Pid)
		}
	}
	return pids
}
