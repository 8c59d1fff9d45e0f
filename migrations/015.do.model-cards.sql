-- Model cards (issue 19): every model version gets a card at training (detection/model-card.ts:
-- training window and size, features, parameters, evaluation, calibration, alert rate by segment,
-- known limits), stored with it. A model without one (trained before this migration) cannot be
-- promoted until `txmon model card <version> --generate` writes one.
ALTER TABLE models ADD COLUMN IF NOT EXISTS card JSON NULL AFTER metrics;
