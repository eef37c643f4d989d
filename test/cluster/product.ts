// The search engine the harness runs, in one place: its name, the Maven
// artifact of its distribution, the release tests get by default and the Java
// it needs. Only Elasticsearch today; another engine built the same way (an
// integ-test zip on Maven Central, e.g. OpenSearch's
// org.opensearch.distribution.integ-test-zip:opensearch) would be a second
// Product.

export interface Product {
  /** Lower case: the launcher bin/<name>, the cached <name>-<version>.zip, messages. */
  name: string;
  /** As written in prose messages. */
  title: string;
  /** Maven coordinates of the distribution, a zip: <groupId>:<artifactId>:<version>:zip. */
  groupId: string;
  artifactId: string;
  defaultVersion: string;
  /** The oldest Java major a release runs on. */
  minJava(version: string): number;
}

export const ELASTICSEARCH: Product = {
  name: 'elasticsearch',
  title: 'Elasticsearch',
  // The integ-test zip: the server and its modules, no JDK, no x-pack plugins.
  groupId: 'org.elasticsearch.distribution.integ-test-zip',
  artifactId: 'elasticsearch',
  defaultVersion: '8.19.21',
  // 17 for 8.x, 21 for 9.x.
  minJava: (version) => (Number(version.split('.')[0]) >= 9 ? 21 : 17),
};
