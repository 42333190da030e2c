package io.propolis.conformance;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf;
import org.apache.hadoop.hive.metastore.minihms.AbstractMetaStoreService;

/**
 * The metastore service Hive's client tests talk to: a Propolis already running (ConformanceRunner asked the
 * Go harness for a fresh one before loading the class). Hive's AbstractMetaStoreService does the
 * rest (clients, warehouse and trash checks); its start() only opens the warehouse file system.
 */
public class PropolisMetaStore extends AbstractMetaStoreService {
  /** System property holding the thrift:// URI of the Propolis serving the current class. */
  public static final String URI_PROPERTY = "propolis.thrift.uri";

  public PropolisMetaStore(Configuration conf) {
    super(conf);
  }

  /**
   * The client configuration: metastore-site.xml from the class path (the warehouse directories
   * Propolis was started with, client timeouts), the client-side values Hive's own factory sets,
   * and the URI of the Propolis for this class. Server-side values Hive's factory also sets (it
   * hands the same Configuration to the server it starts) cannot reach Propolis; the tests that
   * depend on them are in exclusions.txt.
   */
  public static Configuration clientConf() {
    String uri = System.getProperty(URI_PROPERTY);
    if (uri == null || uri.isEmpty()) {
      throw new IllegalStateException("system property " + URI_PROPERTY + " is not set: run the classes through io.propolis.conformance.ConformanceRunner");
    }
    Configuration conf = MetastoreConf.newMetastoreConf();
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.METRICS_ENABLED, true);
    MetastoreConf.setLongVar(conf, MetastoreConf.ConfVars.BATCH_RETRIEVE_MAX, 2);
    MetastoreConf.setLongVar(conf, MetastoreConf.ConfVars.LIMIT_PARTITION_REQUEST, 100);
    MetastoreConf.setVar(conf, MetastoreConf.ConfVars.THRIFT_URIS, uri);
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.EXECUTE_SET_UGI, false);
    return conf;
  }
}
