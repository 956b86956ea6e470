-- HDFS data node and name node log (loghub HDFS_2k):
--   081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865049064139660 terminating
-- `ts` spans the date and time groups, so the header text is kept too.
CREATE STREAM hdfs
  WITH (source = 'dir:examples/formats/data/HDFS', files = 'HDFS_2k.log',
        format = 'regex',
        pattern = '(?P<ts>(?P<date>\d{6}) (?P<time>\d{6})) (?P<pid>\d+) (?P<level>\w+) (?P<component>[^:]+): +(?P<content>.*?)\s*$',
        types = 'ts:timestamp(%y%m%d %H%M%S),pid:int',
        event_time = 'ts', watermark = '10s');

CREATE QUERY hdfs_components AS
  SELECT component, count(*) AS n FROM hdfs WHERE level != 'INFO' GROUP BY component;
