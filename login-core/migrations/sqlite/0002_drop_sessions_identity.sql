-- 0002: drop the index of sessions by identity.
--
-- No query reads sessions by (appid, openid), and identities are never deleted nor re-keyed,
-- which is the only time SQLite uses a child index for the foreign key. Session tokens and
-- openids are random, so each login wrote one more random page of this index: under load the
-- login writer's time is mostly spent writing pages, and without it a login writes about a
-- quarter fewer. A change that deletes identities or changes their keys must create it again.

DROP INDEX sessions_identity;
