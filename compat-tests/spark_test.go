package compattests

import (
	"path/filepath"
	"testing"
	"time"
)

// TestSpark runs compat-tests/spark_test.py (pyspark 3.5 with enableHiveSupport(), i.e. Spark's
// built-in Hive 2.3.9 metastore client) against Propolis twice: `write` creates and checks
// everything, `verify` runs in a new JVM with a new metastore connection, checks that it all
// persisted, and drops it.
func TestSpark(t *testing.T) {
	py := venvPython(t, "pyspark venv", "pyspark")
	java := java17Home(t)
	p := startPropolis(t)
	dir := t.TempDir()
	warehouse := filepath.Join(dir, "warehouse")
	script := filepath.Join(repoRoot, "compat-tests", "spark_test.py")
	env := []string{
		"JAVA_HOME=" + java,
		"PATH=" + filepath.Join(java, "bin") + ":" + getenv("PATH", "/usr/bin:/bin"),
		"PYSPARK_PYTHON=" + py,
		"PYSPARK_DRIVER_PYTHON=" + py,
		"SPARK_LOCAL_IP=127.0.0.1",
		"SPARK_LOCAL_DIRS=" + filepath.Join(dir, "spark-local"),
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	}
	total := p.Metrics(t)
	defer func() {
		if !p.external {
			t.Logf("all metastore calls made by Spark (both phases):\n%s", p.Metrics(t).Sub(total))
		}
	}()
	for _, phase := range []string{"write", "verify"} {
		before := p.Metrics(t)
		// Both phases run even when the first fails, so one run shows every problem.
		out, err := tryScript(t, 10*time.Minute, env, dir, py, script, phase, "--metastore", p.URI(), "--warehouse", warehouse)
		d := p.Metrics(t).Sub(before)
		t.Logf("ENGINE: Spark %s (Hive metastore client %s), phase %s", markerValue(out, "SPARK_VERSION"),
			markerValue(out, "HIVE_METASTORE_CLIENT"), phase)
		reportCalls(t, "Spark ("+phase+")", d)
		if err != nil {
			t.Errorf("Spark phase %s failed: %v", phase, err)
		}
		if phase == "write" && !p.external && d.OK("get_partitions_by_filter") == 0 {
			t.Errorf("Spark's partition-pruned queries made no successful get_partitions_by_filter call: " +
				"pruning did not happen in the metastore")
		}
	}
}
