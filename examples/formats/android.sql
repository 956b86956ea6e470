-- Android framework log, logcat "threadtime" format (loghub Android_2k):
--   03-17 16:13:38.819  1702  8671 D PowerManagerService: acquire lock=233570404, flags=0x1, …
-- The lines carry no year; the sample's is not known, so one is chosen.
CREATE STREAM android
  WITH (source = 'dir:examples/formats/data/Android', files = 'Android_2k.log',
        format = 'regex', year = '2017',
        pattern = '(?P<ts>(?P<date>\d\d-\d\d) (?P<time>\d\d:\d\d:\d\d\.\d{3})) +(?P<pid>\d+) +(?P<tid>\d+) (?P<level>\w) (?P<component>.*?): +(?P<content>.*?)\s*$',
        types = 'ts:timestamp(%m-%d %H:%M:%S.%f),pid:int,tid:int',
        event_time = 'ts', watermark = '10s');

CREATE QUERY android_busy_threads AS
  SELECT pid, tid, count(*) AS n FROM android GROUP BY pid, tid
  HAVING count(*) > 100 WINDOW TUMBLING 1m;
