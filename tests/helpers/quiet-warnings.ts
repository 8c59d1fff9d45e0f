// Set-up file of the integration and chaos projects (vitest.config.ts): the test workers talk to
// Kafka through kafkajs in-process, so on Node 22 and 24 they would print kafkajs's harmless
// negative-timeout warning, as the processors would without bin/txmon.js's filter.
import { quietKnownWarnings } from '../../bin/node-warnings.js';

quietKnownWarnings();
