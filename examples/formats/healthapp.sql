-- A health app's log, fields separated by `|` (loghub HealthApp_2k):
--   20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579
-- The last part of the time is milliseconds, not always 3 digits
-- (`22:16:0:5`), hence %L rather than the fraction %f.
CREATE STREAM healthapp
  WITH (source = 'dir:examples/formats/data/HealthApp', files = 'HealthApp_2k.log',
        format = 'regex',
        pattern = '(?P<time>\d{8}-\d+:\d+:\d+:\d+)\|(?P<component>[^|]*)\|(?P<pid>\d+)\|(?P<content>.*?)\s*$',
        types = 'time:timestamp(%Y%m%d-%H:%M:%S:%L),pid:int',
        event_time = 'time', watermark = '10s');

CREATE QUERY healthapp_components AS
  SELECT component, count(*) AS n FROM healthapp GROUP BY component WINDOW TUMBLING 1h;
