-- A tour of Shoal over the committed sample (examples/data/tweets: 2,000
-- generated tweets, 20 per second of event time, from 2016-11-01T00:00:00Z).

CREATE STREAM tweets (ts TIMESTAMP, id BIGINT, user TEXT, lang TEXT, country TEXT, text TEXT, hashtags TEXT[], retweets BIGINT, followers BIGINT)
  WITH (source = 'dir:examples/data/tweets', format = 'json', event_time = 'ts', watermark = '5s');

-- English tweets about Hillary per country, over the last 30 s, every 10 s.
CREATE QUERY en_by_country AS
  SELECT country, count(*) AS n, avg(retweets) AS avg_rt
  FROM tweets
  WHERE lang = 'en' AND text CONTAINS 'hillary'
  GROUP BY country
  WINDOW SLIDING 30s EVERY 10s;

-- Trending hashtags: the top 10 each minute.
CREATE QUERY trending_tags AS
  SELECT hashtags, count(*) AS n
  FROM tweets
  GROUP BY hashtags
  WINDOW TUMBLING 1m
  ORDER BY n DESC LIMIT 10;

-- How many different users mention the debate, per 10 s.
CREATE QUERY debate_users AS
  SELECT count(DISTINCT user) AS users, count(*) AS n
  FROM tweets
  WHERE text CONTAINS 'debate' OR hashtags CONTAINS 'debate'
  WINDOW TUMBLING 10s;

-- A filter: popular accounts tweeting about the FBI, as they arrive.
CREATE QUERY fbi_from_big_accounts AS
  SELECT id, user, followers, text
  FROM tweets
  WHERE text CONTAINS 'fbi' AND followers >= 100;

-- Running totals since the start: languages with at least 20 tweets on Trump.
CREATE QUERY trump_by_lang AS
  SELECT lang, count(*) AS n, sum(retweets) AS rts
  FROM tweets
  WHERE text CONTAINS 'trump'
  GROUP BY lang
  HAVING n >= 20;

-- A regular expression: "vote for …" in any capitalisation, by country.
CREATE QUERY vote_for AS
  SELECT country, count(*) AS n
  FROM tweets
  WHERE text MATCHES '(?i)vote\s+for' AND country IS NOT NULL
  GROUP BY country
  WINDOW TUMBLING 1m;
