-- ZooKeeper server log (loghub Zookeeper_2k):
--   2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - Notification time out: 3200
-- The sample is not in time order (lines up to 26 days apart are mixed), so
-- records take their arrival time rather than `ts` as event time.
CREATE STREAM zookeeper
  WITH (source = 'dir:examples/formats/data/Zookeeper', files = 'Zookeeper_2k.log',
        format = 'regex',
        pattern = '(?P<ts>(?P<date>\d{4}-\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d,\d{3})) - (?P<level>\w+) +\[(?P<node>[^:]*):(?P<component>[^@]*)@(?P<id>\d+)\] - (?P<content>.*?)\s*$',
        types = 'ts:timestamp(%Y-%m-%d %H:%M:%S,%f),id:int');

CREATE QUERY zookeeper_warnings AS
  SELECT component, count(*) AS n FROM zookeeper WHERE level = 'WARN' GROUP BY component;
