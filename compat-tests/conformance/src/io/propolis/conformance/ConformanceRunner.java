package io.propolis.conformance;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Request;
import org.junit.runner.manipulation.Filter;
import org.junit.runner.manipulation.Filterable;
import org.junit.runner.manipulation.NoTestsRemainException;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs Hive's metastore test classes, one after the other in this JVM, each against a fresh
 * Propolis that the Go harness (compat-tests/conformance_test.go) starts on request.
 *
 * <p>Usage: ConformanceRunner RESULTS.tsv EXCLUDED.txt [NAME:]CLASS...
 *
 * <p>Protocol on stdout/stdin (everything else this JVM prints goes to stderr): before a class,
 * "@@conformance need CLASS", answered by a line with the thrift:// URI of a fresh Propolis (or
 * "error: why"); after it, "@@conformance done CLASS", answered by any line once that Propolis is
 * stopped.
 *
 * <p>RESULTS.tsv gets one line per test: class, method, status (pass, fail, error, skip,
 * excluded), milliseconds, exception class, first line of the message (and of its cause's), and
 * the line of Hive's test class where it failed. "fail" is an
 * AssertionError, "error" any other exception (Surefire's convention). A failure outside any test
 * (a class that cannot load, a failing @BeforeClass) is recorded with method "(class)".
 *
 * <p>EXCLUDED.txt lists "Class#method" or "Class" (every test of the class), one a line.
 */
public final class ConformanceRunner {
  private ConformanceRunner() {}

  public static void main(String[] args) throws Exception {
    if (args.length < 2) {
      System.err.println("usage: ConformanceRunner RESULTS.tsv EXCLUDED.txt CLASS...");
      System.exit(2);
    }
    PrintStream proto = new PrintStream(new FileOutputStream(FileDescriptor.out), true, "UTF-8");
    System.setOut(System.err);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    Set<String> excluded = new HashSet<>();
    for (String line : Files.readAllLines(Paths.get(args[1]), StandardCharsets.UTF_8)) {
      line = line.trim();
      if (!line.isEmpty() && !line.startsWith("#")) {
        excluded.add(line);
      }
    }
    try (PrintWriter out = new PrintWriter(new OutputStreamWriter(new FileOutputStream(args[0]), StandardCharsets.UTF_8))) {
      for (int i = 2; i < args.length; i++) {
        runClass(args[i], excluded, out, proto, in);
        out.flush();
      }
    }
    // Hive's clients and the Hadoop file system leave non-daemon threads behind.
    System.exit(0);
  }

  private static void runClass(String className, Set<String> excluded, PrintWriter out, PrintStream proto,
      BufferedReader in) throws IOException {
    // "Name:fully.qualified.Class" reports the class under Name (the harness's subclass that runs
    // Hive's TestHiveMetaStore is reported as TestHiveMetaStore).
    String arg = className;
    String simple = className.substring(className.lastIndexOf('.') + 1);
    int colon = className.indexOf(':');
    if (colon > 0) {
      simple = className.substring(0, colon);
      className = className.substring(colon + 1);
    }
    Class<?> cls;
    try {
      cls = Class.forName(className, false, ConformanceRunner.class.getClassLoader());
    } catch (Throwable e) {
      row(out, simple, "(class)", "error", 0, e.getClass().getName(), firstLine(e.getMessage()));
      return;
    }
    if (excluded.contains(simple)) {
      // Every test of the class is excluded: list them without running any (the factory only
      // builds a client configuration, so a placeholder URI is enough to enumerate them).
      System.setProperty(PropolisMetaStore.URI_PROPERTY, "thrift://127.0.0.1:1");
      Set<String> methods = new java.util.TreeSet<>();
      try {
        collect(Request.aClass(cls).getRunner().getDescription(), methods);
      } catch (Throwable e) {
        methods.clear();
      }
      if (methods.isEmpty()) {
        methods.add("(class)");
      }
      for (String m : methods) {
        row(out, simple, m, "excluded", 0, "", "");
      }
      return;
    }
    proto.println("@@conformance need " + arg);
    String uri = in.readLine();
    if (uri == null) {
      throw new IOException("the harness closed stdin");
    }
    if (!uri.startsWith("thrift://")) {
      row(out, simple, "(class)", "error", 0, "PropolisDidNotStart", firstLine(uri));
      return;
    }
    System.setProperty(PropolisMetaStore.URI_PROPERTY, uri);
    try {
      ExcludeFilter filter = new ExcludeFilter(simple, excluded);
      try {
        org.junit.runner.Runner r = Request.aClass(cls).getRunner();
        if (r instanceof Filterable) {
          ((Filterable) r).filter(filter);
        }
        runWith(r, simple, out);
      } catch (NoTestsRemainException e) {
        // every test of the class is excluded by name
      } catch (Throwable e) {
        row(out, simple, "(class)", "error", 0, e.getClass().getName(), firstLine(e.getMessage()));
      }
      for (String m : filter.excludedMethods) {
        row(out, simple, m, "excluded", 0, "", "");
      }
    } finally {
      proto.println("@@conformance done " + arg);
      if (in.readLine() == null) {
        throw new IOException("the harness closed stdin");
      }
    }
  }

  private static void runWith(org.junit.runner.Runner r, String simple, PrintWriter out) {
    JUnitCore core = new JUnitCore();
    core.addListener(new Recorder(simple, out));
    core.run(Request.runner(r));
  }

  /** Drops the tests named in the exclusion list, remembering which. */
  private static final class ExcludeFilter extends Filter {
    private final String simple;
    private final Set<String> excluded;
    final Set<String> excludedMethods = new java.util.TreeSet<>();

    ExcludeFilter(String simple, Set<String> excluded) {
      this.simple = simple;
      this.excluded = excluded;
    }

    @Override
    public boolean shouldRun(Description d) {
      if (d.isTest()) {
        String m = method(d);
        if (excluded.contains(simple + "#" + m)) {
          excludedMethods.add(m);
          return false;
        }
        return true;
      }
      boolean any = false;
      for (Description c : d.getChildren()) {
        any |= shouldRun(c);
      }
      return any;
    }

    @Override
    public String describe() {
      return "exclusions.txt";
    }
  }

  /** Writes one row per finished test. */
  private static final class Recorder extends RunListener {
    private final String simple;
    private final PrintWriter out;
    private final Map<Description, Long> started = new HashMap<>();
    private final Map<Description, Failure> failed = new HashMap<>();
    private final Set<Description> skipped = new HashSet<>();

    Recorder(String simple, PrintWriter out) {
      this.simple = simple;
      this.out = out;
    }

    @Override
    public void testStarted(Description d) {
      started.put(d, System.nanoTime());
    }

    @Override
    public void testFailure(Failure f) {
      Description d = f.getDescription();
      if (!d.isTest() || d.getMethodName() == null) {
        Throwable e = f.getException();
        row(out, simple, "(class)", "error", 0, e.getClass().getName(), firstLine(e.getMessage()));
        return;
      }
      failed.put(d, f);
    }

    @Override
    public void testAssumptionFailure(Failure f) {
      skipped.add(f.getDescription());
    }

    @Override
    public void testIgnored(Description d) {
      row(out, simple, method(d), "skip", 0, "", "");
    }

    @Override
    public void testFinished(Description d) {
      Long t0 = started.remove(d);
      long ms = t0 == null ? 0 : (System.nanoTime() - t0) / 1_000_000;
      Failure f = failed.remove(d);
      if (f != null) {
        Throwable e = f.getException();
        String status = e instanceof AssertionError ? "fail" : "error";
        row(out, simple, method(d), status, ms, e.getClass().getName(), describe(e), where(e));
      } else if (skipped.remove(d)) {
        row(out, simple, method(d), "skip", ms, "", "");
      } else {
        row(out, simple, method(d), "pass", ms, "", "");
      }
      out.flush();
    }
  }

  private static void collect(Description d, Set<String> into) {
    if (d.isTest()) {
      into.add(method(d));
    }
    for (Description c : d.getChildren()) {
      collect(c, into);
    }
  }

  /** The method name without JUnit's parameter suffix ("testFoo[Remote]" is "testFoo"). */
  static String method(Description d) {
    String m = d.getMethodName();
    if (m == null) {
      return "(class)";
    }
    int i = m.indexOf('[');
    return i > 0 ? m.substring(0, i) : m;
  }

  /**
   * The first line of the message, and of the cause's where there is one: JUnit's "Unexpected
   * exception, expected X but was Y" and Hive's client wrappers hide what the server said.
   */
  static String describe(Throwable e) {
    String m = diffOf(e.getMessage());
    if (m == null) {
      m = firstLine(e.getMessage());
    }
    Throwable c = e.getCause();
    if (c != null && c != e) {
      String cm = firstLine(c.getMessage());
      if (!m.contains(cm)) {
        m = m + " <- " + c.getClass().getSimpleName() + ": " + cm;
      }
    }
    return m;
  }

  /**
   * For "PREFIX expected:<A> but was:<B>" with long A and B (whole Thrift objects), only where they
   * first differ: "PREFIX expected:<...A'...> but was:<...B'...>", so the report shows the field.
   */
  static String diffOf(String msg) {
    if (msg == null) {
      return null;
    }
    int e = msg.indexOf("expected:<");
    int w = msg.lastIndexOf("> but was:<");
    if (e < 0 || w < e || !msg.endsWith(">") || msg.length() < 300) {
      return null;
    }
    String a = msg.substring(e + 10, w);
    String b = msg.substring(w + 11, msg.length() - 1);
    int i = 0;
    while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) {
      i++;
    }
    int from = Math.max(0, i - 60);
    return firstLine(msg.substring(0, e)) + " expected:<..." + excerpt(a, from) + "> but was:<..." + excerpt(b, from) + ">";
  }

  private static String excerpt(String s, int from) {
    int to = Math.min(s.length(), from + 160);
    return s.substring(Math.min(from, s.length()), to).replace('\n', ' ') + (to < s.length() ? "..." : "");
  }

  static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    s = s.trim();
    int i = s.indexOf('\n');
    if (i >= 0) {
      s = s.substring(0, i);
    }
    if (s.length() > 400) {
      s = s.substring(0, 400) + "...";
    }
    return s;
  }

  static void row(PrintWriter out, String cls, String method, String status, long ms, String exc, String msg) {
    row(out, cls, method, status, ms, exc, msg, "");
  }

  static synchronized void row(PrintWriter out, String cls, String method, String status, long ms, String exc,
      String msg, String where) {
    out.println(String.join("\t", clean(cls), clean(method), status, Long.toString(ms), clean(exc), clean(msg),
        clean(where)));
  }

  /** The innermost line of Hive's test code the failure passed through, e.g. "TestFunctions.java:312". */
  static String where(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
      for (StackTraceElement f : t.getStackTrace()) {
        String c = f.getClassName();
        if (c.startsWith("org.apache.hadoop.hive.metastore.") && c.substring(c.lastIndexOf('.') + 1).startsWith("Test")) {
          return f.getFileName() + ":" + f.getLineNumber();
        }
      }
    }
    return "";
  }

  private static String clean(String s) {
    return s.replace('\t', ' ').replace('\r', ' ').replace('\n', ' ');
  }
}
