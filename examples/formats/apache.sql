-- Apache error log (loghub Apache_2k):
--   [Sun Dec 04 04:47:44 2005] [notice] workerEnv.init() ok /etc/httpd/conf/workers2.properties
CREATE STREAM apache
  WITH (source = 'dir:examples/formats/data/Apache', files = 'Apache_2k.log',
        format = 'regex',
        pattern = '\[(?P<time>\w{3} \w{3} \d\d \d\d:\d\d:\d\d \d{4})\] \[(?P<level>\w+)\] (?P<content>.*?)\s*$',
        types = 'time:timestamp(%a %b %d %H:%M:%S %Y)',
        event_time = 'time', watermark = '10s');

CREATE QUERY apache_levels AS
  SELECT level, count(*) AS n FROM apache GROUP BY level WINDOW TUMBLING 1h;
