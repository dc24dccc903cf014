-- Four-element verification (SPEC ID2): the bank card, encrypted.
ALTER TABLE verifications ADD COLUMN card_cipher BLOB;
