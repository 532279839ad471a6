//! A real ClickHouse cluster for the tests: one ZooKeeper
//! (`deploy/zookeeper-dev.sh`) and three clickhouse-server nodes
//! (`deploy/clickhouse-dev.sh`) on free loopback ports, in two shards: the
//! first with two replicas (nodes 0 and 1), the second with one (node 2).
//! Started once, by the first test that asks; the processes stop when the
//! test binary ends.
//!
//! The node configuration comes from [`shared_config`] and [`node_config`],
//! which also wrote `deploy/cluster/` (the operator's example, held equal to
//! them by a test): the harness runs the text an operator installs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Child;
use std::time::Duration;

use super::{ClickHouse, Target, eventually, free_port, http_post, run_dev_script};

/// How long ZooKeeper may take to serve its data (a JVM starting).
pub const ZOOKEEPER_START: Duration = Duration::from_secs(60);
/// How long a replica may take to hold what its shard holds: after a
/// SIGKILL, its old ZooKeeper session must expire before it registers again
/// ([`SESSION_TIMEOUT_MS`]), then it fetches the parts it missed.
pub const REPLICA_CATCH_UP: Duration = Duration::from_secs(90);
/// The ZooKeeper session of the tests' nodes: short, so a killed node comes
/// back quickly (production keeps ClickHouse's 30 s, see deploy/cluster/).
const SESSION_TIMEOUT_MS: u32 = 6_000;
/// The name of the tests' cluster in `<remote_servers>`.
pub const NAME: &str = "beaconhouse";

/// One node of a layout: how the others reach it, and its replica name.
#[derive(Debug, Clone)]
pub struct Node {
    /// The name or address the other nodes reach it by.
    pub host: String,
    /// Its native protocol port.
    pub port: u16,
    /// The address it listens on.
    pub listen: String,
    /// Its `{replica}` macro, unique in the cluster.
    pub replica: String,
}

/// A cluster as ClickHouse's configuration describes it.
#[derive(Debug, Clone)]
pub struct Layout {
    pub name: String,
    /// The shards, each a list of its replicas.
    pub shards: Vec<Vec<Node>>,
    /// ZooKeeper servers: (host, client port).
    pub zookeeper: Vec<(String, u16)>,
    pub session_timeout_ms: u32,
}

/// The configuration every node of `layout` shares (a file for
/// `config.d/`): ZooKeeper, the cluster and the queue of `ON CLUSTER`
/// statements. `replace` drops what the packaged config has there (18.16
/// pulls it from `/etc/metrika.xml`, and leaves no ZooKeeper without it).
pub fn shared_config(layout: &Layout) -> String {
    let mut xml = String::from(
        "<!-- beaconhouse: the same file on every ClickHouse node, in /etc/clickhouse-server/config.d/.\n     Written by tests/it/common/cluster.rs, whose test cluster runs on this text (deploy/CLUSTER.md). -->\n<yandex>\n    <zookeeper replace=\"replace\">\n",
    );
    for (host, port) in &layout.zookeeper {
        xml.push_str(&format!(
            "        <node>\n            <host>{host}</host>\n            <port>{port}</port>\n        </node>\n"
        ));
    }
    xml.push_str(&format!(
        "        <session_timeout_ms>{}</session_timeout_ms>\n    </zookeeper>\n    <remote_servers replace=\"replace\">\n        <{}>\n",
        layout.session_timeout_ms, layout.name
    ));
    for shard in &layout.shards {
        xml.push_str("            <shard>\n                <internal_replication>true</internal_replication>\n");
        for node in shard {
            xml.push_str(&format!(
                "                <replica>\n                    <host>{}</host>\n                    <port>{}</port>\n                </replica>\n",
                node.host, node.port
            ));
        }
        xml.push_str("            </shard>\n");
    }
    xml.push_str(&format!(
        "        </{}>\n    </remote_servers>\n    <distributed_ddl replace=\"replace\">\n        <path>/clickhouse/task_queue/ddl</path>\n    </distributed_ddl>\n</yandex>\n",
        layout.name
    ));
    xml
}

/// One node's own configuration (a second file for `config.d/`): where it
/// listens, the host name replicas fetch parts from, and its macros.
pub fn node_config(shard: usize, node: &Node) -> String {
    format!(
        "<!-- beaconhouse: node {replica}'s own settings, in /etc/clickhouse-server/config.d/ next to cluster.xml.\n     Written by tests/it/common/cluster.rs (deploy/CLUSTER.md). -->\n<yandex>\n    <listen_host>{listen}</listen_host>\n    <interserver_http_host>{host}</interserver_http_host>\n    <macros replace=\"replace\">\n        <shard>{shard:02}</shard>\n        <replica>{replica}</replica>\n    </macros>\n</yandex>\n",
        replica = node.replica,
        listen = node.listen,
        host = node.host,
        shard = shard + 1,
    )
}

/// The operator's example in `deploy/cluster/`: one shard of three replicas.
pub fn example_layout() -> Layout {
    let node = |n: u16| Node {
        host: format!("ch{n}.internal"),
        port: 9000,
        listen: format!("10.0.0.{}", 10 + n),
        replica: format!("ch{n}"),
    };
    Layout {
        name: NAME.into(),
        shards: vec![vec![node(1), node(2), node(3)]],
        zookeeper: (1..=3).map(|n| (format!("zk{n}.internal"), 2181)).collect(),
        session_timeout_ms: 30_000,
    }
}

/// A single-server ZooKeeper.
struct ZooKeeper {
    process: Child,
    _dir: tempfile::TempDir,
}

impl Drop for ZooKeeper {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl ZooKeeper {
    fn start() -> (ZooKeeper, u16) {
        let dir = tempfile::Builder::new()
            .prefix("beaconhouse-zookeeper-")
            .tempdir()
            .expect("temporary directory");
        let port = free_port();
        let process = run_dev_script(
            "zookeeper-dev.sh",
            &[dir.path().display().to_string(), port.to_string()],
            &dir.path().join("zookeeper.out"),
            ZOOKEEPER_START,
            "zookeeper is not installed. Install it with `apt-get install -y zookeeper default-jre-headless` (as root).",
            || srvr(port),
        );
        (ZooKeeper { process, _dir: dir }, port)
    }
}

/// `Ok` once ZooKeeper's `srvr` answer has a `Mode:` line: its data is
/// loaded and a ClickHouse node's handshake will succeed.
fn srvr(port: u16) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    stream.write_all(b"srvr").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    if answer.contains("Mode:") {
        Ok(())
    } else {
        Err(answer)
    }
}

/// ZooKeeper and three ClickHouse nodes: shard 1 is nodes 0 and 1, shard 2
/// is node 2.
pub struct Cluster {
    pub nodes: Vec<ClickHouse>,
    // Dropped after the nodes: declared last.
    _zookeeper: ZooKeeper,
}

impl Cluster {
    pub fn start() -> Cluster {
        let (zookeeper, zookeeper_port) = ZooKeeper::start();
        let mut nodes: Vec<ClickHouse> = (0..3).map(|_| ClickHouse::unstarted()).collect();
        let node = |i: usize| Node {
            host: "127.0.0.1".into(),
            port: nodes[i].tcp_port(),
            listen: "127.0.0.1".into(),
            replica: format!("r{}", i + 1),
        };
        let layout = Layout {
            name: NAME.into(),
            shards: vec![vec![node(0), node(1)], vec![node(2)]],
            zookeeper: vec![("127.0.0.1".into(), zookeeper_port)],
            session_timeout_ms: SESSION_TIMEOUT_MS,
        };
        for (shard, replicas) in layout.shards.iter().enumerate() {
            for replica in replicas {
                let i = nodes
                    .iter()
                    .position(|n| n.tcp_port() == replica.port)
                    .unwrap();
                let config_d = nodes[i].dir().join("config.d");
                std::fs::create_dir_all(&config_d).unwrap();
                std::fs::write(config_d.join("cluster.xml"), shared_config(&layout)).unwrap();
                std::fs::write(config_d.join("node.xml"), node_config(shard, replica)).unwrap();
            }
        }
        for node in &mut nodes {
            node.launch();
        }
        Cluster {
            nodes,
            _zookeeper: zookeeper,
        }
    }

    /// The cluster reached through `nodes`, in that order.
    pub fn target(&self, nodes: &[usize]) -> Target {
        Target {
            urls: nodes.iter().map(|&i| self.nodes[i].url.clone()).collect(),
            cluster: Some(NAME.into()),
        }
    }

    /// Starts any node a test left stopped.
    pub fn restore(&mut self) {
        for node in &mut self.nodes {
            if !node.running() {
                node.resume();
            }
        }
    }

    /// Runs `sql` on node `i` with `insert_distributed_sync=1`, so an insert
    /// into a `Distributed` table has reached its shards when it returns.
    pub fn insert(&self, i: usize, database: &str, sql: &str) {
        let url = format!(
            "{}/?database={database}&insert_distributed_sync=1",
            self.nodes[i].url
        );
        let answer = http_post(&url, sql.as_bytes(), &[]);
        assert!(
            matches!(&answer, Some((200, _))),
            "{sql} on node {i}: {answer:?}"
        );
    }

    /// Waits until every node's replica of `table` holds what its shard
    /// holds (`SYSTEM SYNC REPLICA` on each).
    pub fn sync_replicas(&self, database: &str, table: &str) {
        for node in &self.nodes {
            node.query(database, &format!("SYSTEM SYNC REPLICA {table}"));
        }
    }

    /// Waits until every node answers `sql` with `expected`.
    pub fn everywhere(&self, what: &str, database: &str, sql: &str, expected: &str) {
        eventually(what, REPLICA_CATCH_UP, || {
            let answers: Vec<String> = self
                .nodes
                .iter()
                .map(|n| match n.try_query(database, sql) {
                    Some((200, body)) => body.trim().to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            if answers.iter().all(|a| a == expected) {
                Ok(())
            } else {
                Err(answers)
            }
        });
    }
}
