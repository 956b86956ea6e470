-- An OpenSSH server's auth log (loghub OpenSSH_2k), read as syslog:
--   Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186
-- The lines carry no year; the sample's is not known, so one is chosen.
CREATE STREAM openssh
  WITH (source = 'dir:examples/formats/data/OpenSSH', files = 'OpenSSH_2k.log',
        format = 'syslog', year = '2015',
        event_time = 'timestamp', watermark = '10s');

CREATE QUERY ssh_invalid_users AS
  SELECT count(*) AS attempts FROM openssh
  WHERE message MATCHES '^Invalid user '
  WINDOW TUMBLING 10m;
