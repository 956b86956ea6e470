-- Queries with many final window results, to load the store in
-- `shoal bench-live --extra-sql benches/sql/store_heavy.sql`: one result
-- per active user per second, and per (country, lang) per second.
CREATE QUERY per_user_1s AS
  SELECT user, count(*) AS n, sum(retweets) AS rt FROM tweets GROUP BY user WINDOW TUMBLING 1s;
CREATE QUERY per_country_lang_1s AS
  SELECT country, lang, count(*) AS n, max(followers) AS top FROM tweets GROUP BY country, lang WINDOW TUMBLING 1s;
