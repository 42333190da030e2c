// Propolis's replacement for Hive's test factory of the same name (same package and signature, put
// before Hive's test jar on the class path): Hive's own factory starts an embedded and an
// in-process Thrift metastore over Derby; this one hands the unmodified Hive test classes a single
// metastore service, the Propolis the conformance harness started for the class being run.
package org.apache.hadoop.hive.metastore.client;

import java.util.ArrayList;
import java.util.List;

import io.propolis.conformance.PropolisMetaStore;

public final class MetaStoreFactoryForTests {
  private MetaStoreFactoryForTests() {}

  /**
   * One parameter, named "Remote": Hive's tests use that name (TestHiveMetaStoreClient) to tell a
   * metastore reached over Thrift from an embedded one, and Propolis is reached over Thrift.
   */
  public static List<Object[]> getMetaStores() throws Exception {
    List<Object[]> metaStores = new ArrayList<>();
    metaStores.add(new Object[] {"Remote", new PropolisMetaStore(PropolisMetaStore.clientConf())});
    return metaStores;
  }
}
