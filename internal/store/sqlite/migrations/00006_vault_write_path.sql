-- +goose Up
-- Tokens are random, so every index whose entries end with the token puts
-- each new record on a different page: a batch of 500 tokens dirtied three
-- random pages per record (table, dek_key index, fp_key index), and the
-- commit wrote them all to the WAL. The two key-id indexes served only the
-- re-wrap job and "keys status", which page through the table in token
-- order anyway (Stale) or count once (KeyUsage): they scan the table now.
DROP INDEX vault_records_dek_key;
DROP INDEX vault_records_fp_key;

-- +goose Down
CREATE INDEX vault_records_dek_key ON vault_records (dek_key_id);
CREATE INDEX vault_records_fp_key ON vault_records (fp_key_id);
