package org.apache.hadoop.hive.metastore;

import io.propolis.conformance.PropolisMetaStore;
import org.apache.hadoop.hive.metastore.conf.MetastoreConf;
import org.junit.Before;

/**
 * Hive's TestHiveMetaStore run as Hive's TestRemoteHiveMetaStore runs it (a Thrift client with
 * set_ugi off), against the Propolis started for this class instead of an in-process metastore.
 * Every test method is Hive's; this class only supplies the client.
 */
public class PropolisRemoteHiveMetaStore extends TestHiveMetaStore {
  public PropolisRemoteHiveMetaStore() {
    super();
    isThriftClient = true;
  }

  @Before
  @Override
  public void setUp() throws Exception {
    super.setUp();
    // TestHiveMetaStore builds a new Configuration before every test; tests that open a second
    // client from it must reach the same server.
    pointAtPropolis();
    if (client == null) {
      client = createClient();
    }
  }

  @Override
  protected HiveMetaStoreClient createClient() throws Exception {
    pointAtPropolis();
    return new HiveMetaStoreClient(conf);
  }

  private static void pointAtPropolis() {
    MetastoreConf.setVar(conf, MetastoreConf.ConfVars.THRIFT_URIS, System.getProperty(PropolisMetaStore.URI_PROPERTY));
    MetastoreConf.setBoolVar(conf, MetastoreConf.ConfVars.EXECUTE_SET_UGI, false);
  }
}
