package catalog

import (
	"fmt"
	"sort"
	"strings"

	"github.com/skynomad/skynomad/task"
)

// PlanGroup ranks the placements of a job group: each task planned by
// plan, then placed together (CoLocate).
func PlanGroup(tasks []task.Task, plan func(task.Task) ([]Choice, error)) ([]Choice, error) {
	names := make([]string, len(tasks))
	perTask := make([][]Choice, len(tasks))
	for i, t := range tasks {
		choices, err := plan(t)
		if err != nil {
			return nil, fmt.Errorf("task %d (%s): %w", i, t.Name, err)
		}
		names[i], perTask[i] = t.Name, choices
	}
	return CoLocate(names, perTask)
}

// CoLocate ranks the placements of a job group, whose tasks run in one
// location (cloud and region) as SkyPilot places them. perTask holds each
// task's ranked choices (Plan). For every location where each task has a
// choice, it takes each task's best choice there; the locations are
// ranked by the group's hourly cost, ties in the first task's order. An
// error names a task that fits nowhere the others do.
func CoLocate(names []string, perTask [][]Choice) ([]Choice, error) {
	if len(perTask) == 0 {
		return nil, nil
	}
	type loc struct{ cloud, region string }
	locOf := func(c Choice) loc { return loc{c.Offering.Cloud, c.Offering.Region} }
	var order []loc
	seen := map[loc]bool{}
	for _, c := range perTask[0] {
		if l := locOf(c); !seen[l] {
			seen[l] = true
			order = append(order, l)
		}
	}
	var out []Choice
	for _, l := range order {
		group := Choice{}
		ok := true
		for _, choices := range perTask {
			pick := -1
			for i, c := range choices {
				if locOf(c) == l {
					pick = i
					break
				}
			}
			if pick < 0 {
				ok = false
				break
			}
			group.Members = append(group.Members, choices[pick])
			group.HourlyCost += choices[pick].HourlyCost
		}
		if !ok {
			continue
		}
		first := group.Members[0]
		group.Offering, group.Spot, group.Candidate = first.Offering, first.Spot, first.Candidate
		out = append(out, group)
	}
	if len(out) == 0 {
		return nil, NoFit(noCommonLocation(names, perTask))
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].HourlyCost < out[j].HourlyCost })
	return out, nil
}

// noCommonLocation says where each task of a group fits, when no
// location fits them all.
func noCommonLocation(names []string, perTask [][]Choice) string {
	var parts []string
	for i, choices := range perTask {
		var where []string
		for _, c := range choices {
			l := c.Offering.Cloud + "/" + c.Offering.Region
			where = appendUnique(where, l)
		}
		name := fmt.Sprintf("task %d", i)
		if i < len(names) {
			name = names[i]
		}
		parts = append(parts, name+" fits in "+capList(where, 4))
	}
	return "the tasks of a job group run in one cloud region, and no region fits them all (" + strings.Join(parts, "; ") + ")"
}
