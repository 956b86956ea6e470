-- Twenty standing questions that overlap the way many users' questions do:
-- the same language filter and term filters recur, and the same group keys
-- appear with different windows. Shoal evaluates each distinct predicate
-- (lang = 'en', text CONTAINS 'hillary', …) once per record and shares
-- aggregation state between queries with the same key and window.

CREATE STREAM tweets (ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT)
  WITH (source = 'dir:examples/data/tweets', format = 'json', event_time = 'ts', watermark = '5s');

-- lang = 'en' AND text CONTAINS 'hillary', grouped by country, four windows.
CREATE QUERY o01 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country WINDOW TUMBLING 10s;
CREATE QUERY o02 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country WINDOW TUMBLING 1m;
CREATE QUERY o03 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country WINDOW SLIDING 30s EVERY 10s;
CREATE QUERY o04 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country;

-- The same lang filter with other terms.
CREATE QUERY o05 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'trump'
  GROUP BY country WINDOW TUMBLING 10s;
CREATE QUERY o06 AS
  SELECT country, count(*) AS n, avg(followers) AS avg_followers FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'debate'
  GROUP BY country WINDOW TUMBLING 1m;
CREATE QUERY o07 AS
  SELECT count(*) AS n, count(DISTINCT user) AS users FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'election'
  WINDOW SLIDING 1m EVERY 10s;
CREATE QUERY o08 AS
  SELECT id, user, text FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary' AND retweets > 100;

-- The same term filter under other languages.
CREATE QUERY o09 AS
  SELECT country, count(*) AS n FROM tweets
  WHERE lang IN ('es', 'pt') AND text CONTAINS 'hillary'
  GROUP BY country WINDOW TUMBLING 10s;
CREATE QUERY o10 AS
  SELECT lang, count(*) AS n FROM tweets
  WHERE text CONTAINS 'hillary'
  GROUP BY lang WINDOW TUMBLING 1m;
CREATE QUERY o11 AS
  SELECT lang, count(*) AS n FROM tweets
  WHERE text CONTAINS 'trump'
  GROUP BY lang WINDOW TUMBLING 1m;

-- Hashtag rankings over the same filters, different windows.
CREATE QUERY o12 AS
  SELECT hashtags, count(*) AS n FROM tweets
  WHERE lang = 'en'
  GROUP BY hashtags WINDOW TUMBLING 1m
  ORDER BY n DESC LIMIT 10;
CREATE QUERY o13 AS
  SELECT hashtags, count(*) AS n FROM tweets
  WHERE lang = 'en'
  GROUP BY hashtags WINDOW SLIDING 30s EVERY 10s
  ORDER BY n DESC LIMIT 10;
CREATE QUERY o14 AS
  SELECT hashtags, count(*) AS n FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY hashtags
  ORDER BY n DESC LIMIT 5;

-- Hashtag filters shared between a count and a filter.
CREATE QUERY o15 AS
  SELECT country, count(*) AS n, sum(retweets) AS rts FROM tweets
  WHERE hashtags CONTAINS 'debate'
  GROUP BY country WINDOW TUMBLING 10s;
CREATE QUERY o16 AS
  SELECT id, user, text FROM tweets
  WHERE hashtags CONTAINS 'debate' AND followers >= 200;

-- Users: the same key with different filters and a HAVING.
CREATE QUERY o17 AS
  SELECT user, count(*) AS n FROM tweets
  WHERE text CONTAINS 'hillary'
  GROUP BY user HAVING n >= 2;
CREATE QUERY o18 AS
  SELECT user, count(*) AS n, max(retweets) AS max_rt FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY user WINDOW TUMBLING 1m
  ORDER BY n DESC LIMIT 10;

-- Country filters reused.
CREATE QUERY o19 AS
  SELECT lang, count(*) AS n FROM tweets
  WHERE country IN ('US', 'CA') AND text CONTAINS 'vote'
  GROUP BY lang WINDOW TUMBLING 10s;
CREATE QUERY o20 AS
  SELECT count(*) AS n FROM tweets
  WHERE country IN ('US', 'CA') AND text MATCHES '(?i)vote\s+for'
  WINDOW SLIDING 1m EVERY 10s;
