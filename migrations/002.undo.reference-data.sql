DROP TABLE IF EXISTS ref_fx_rates;
DROP TABLE IF EXISTS ref_card_bins;
DROP TABLE IF EXISTS ref_merchants;
DROP TABLE IF EXISTS ref_accounts;
