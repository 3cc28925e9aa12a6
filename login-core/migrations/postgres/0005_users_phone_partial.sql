-- 0005_users_phone_partial: the one-owner-per-number key indexes bound numbers only. As a
-- table constraint it held an entry for every user, numberless ones included (NULLs are
-- distinct, so they never clashed): one index write more for every first login, the
-- commonest write, for nothing. A unique index over the rows with a number holds the same
-- rule under the same name (a number taken by a racing write is still a unique violation
-- of `users_phone`), and lookups by number use it (`=` implies the number is not NULL).
-- The table's CHECK keeps the three phone columns all set or all NULL, so the predicate
-- names one of them.
ALTER TABLE users DROP CONSTRAINT users_phone;
CREATE UNIQUE INDEX users_phone ON users (country_code, pure_phone_number)
    WHERE pure_phone_number IS NOT NULL;
