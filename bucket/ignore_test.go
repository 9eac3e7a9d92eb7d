package bucket

import "testing"

func TestIgnoreRules(t *testing.T) {
	t.Parallel()
	type check struct {
		path string
		dir  bool
		want bool // ignored
	}
	for _, tc := range []struct {
		name   string
		rules  string
		checks []check
	}{
		{"name at any depth", "*.log\nbuild\n", []check{
			{"a.log", false, true}, {"x/y/b.log", false, true}, {"a.log.txt", false, false},
			{"build", true, true}, {"src/build", false, true}, {"builds", true, false},
		}},
		{"comments, blanks, escapes", "# not a rule\n\n\\#hash\n\\!bang\nspace\\ \ntrail   \n", []check{
			{"# not a rule", false, false}, {"#hash", false, true}, {"!bang", false, true},
			{"space ", false, true}, {"space", false, false}, {"trail", false, true},
		}},
		{"negation: the last match wins", "*.txt\n!keep.txt\n", []check{
			{"a.txt", false, true}, {"keep.txt", false, false}, {"d/keep.txt", false, false},
		}},
		{"negation, then excluded again", "!a.txt\n*.txt\n", []check{
			{"a.txt", false, true},
		}},
		{"anchored", "/top.txt\ndoc/frotz\n", []check{
			{"top.txt", false, true}, {"sub/top.txt", false, false},
			{"doc/frotz", true, true}, {"a/doc/frotz", true, false},
		}},
		{"directories only", "cache/\n/out/\n", []check{
			{"cache", true, true}, {"cache", false, false}, {"x/cache", true, true},
			{"out", true, true}, {"x/out", true, false},
		}},
		{"double star", "**/logs\nabc/**\na/**/b\n**/tmp/*.o\n", []check{
			{"logs", true, true}, {"x/y/logs", false, true},
			{"abc/x", false, true}, {"abc/x/y", false, true}, {"abc", true, false},
			{"a/b", false, true}, {"a/x/b", false, true}, {"a/x/y/b", false, true}, {"xa/b", false, false},
			{"tmp/x.o", false, true}, {"q/tmp/x.o", false, true}, {"q/tmp/y/x.o", false, false},
		}},
		{"star does not cross /", "/src/*.go\n", []check{
			{"src/a.go", false, true}, {"src/x/a.go", false, false},
		}},
		{"classes and ?", "file[0-9].txt\nlog?\n[!a]z\n/x[/]y\n", []check{
			{"file7.txt", false, true}, {"filex.txt", false, false},
			{"log1", false, true}, {"log12", false, false},
			{"bz", false, true}, {"az", false, false},
			{"x/y", false, false},
		}},
		{"bad pattern is skipped", "[unclosed\nok\n", []check{
			{"[unclosed", false, false}, {"unclosed", false, false}, {"ok", false, true},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := ignores{parseIgnore("", []byte(tc.rules))}
			for _, c := range tc.checks {
				if got := st.ignored(c.path, c.dir); got != c.want {
					t.Errorf("ignored(%q, dir=%v) = %v, want %v", c.path, c.dir, got, c.want)
				}
			}
		})
	}
}

func TestIgnoreDeeperFileWins(t *testing.T) {
	t.Parallel()
	st := ignores{
		parseIgnore("", []byte("*.dat\n/only-root\n")),
		parseIgnore("sub", []byte("!keep.dat\nonly-root\n/anchored\n")),
	}
	for _, c := range []struct {
		path string
		want bool
	}{
		{"a.dat", true},
		{"sub/a.dat", true},
		{"sub/keep.dat", false},
		{"keep.dat", true}, // sub's rules do not reach up
		{"only-root", true},
		{"sub/only-root", true}, // sub's own unanchored rule
		{"sub/anchored", true},
		{"sub/x/anchored", false},
		{"anchored", false},
	} {
		if got := st.ignored(c.path, false); got != c.want {
			t.Errorf("ignored(%q) = %v, want %v", c.path, got, c.want)
		}
	}
}
