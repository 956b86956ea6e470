-- Spark executor log (loghub Spark_2k):
--   17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]
CREATE STREAM spark
  WITH (source = 'dir:examples/formats/data/Spark', files = 'Spark_2k.log',
        format = 'regex',
        pattern = '(?P<ts>(?P<date>\d\d/\d\d/\d\d) (?P<time>\d\d:\d\d:\d\d)) (?P<level>\w+) (?P<component>[^:]+): +(?P<content>.*?)\s*$',
        types = 'ts:timestamp(%y/%m/%d %H:%M:%S)',
        event_time = 'ts', watermark = '10s');

CREATE QUERY spark_blocks AS
  SELECT count(*) AS n FROM spark
  WHERE component = 'storage.BlockManager' WINDOW TUMBLING 10s;
