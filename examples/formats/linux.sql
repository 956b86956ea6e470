-- Linux /var/log/messages (loghub Linux_2k), read as syslog:
--   Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4
-- The lines carry no year; the sample's is not known, so one is chosen.
CREATE STREAM linux
  WITH (source = 'dir:examples/formats/data/Linux', files = 'Linux_2k.log',
        format = 'syslog', year = '2005',
        event_time = 'timestamp', watermark = '10s');

CREATE QUERY linux_auth_failures AS
  SELECT program, count(*) AS n FROM linux
  WHERE message CONTAINS 'authentication failure'
  GROUP BY program WINDOW TUMBLING 1h;
