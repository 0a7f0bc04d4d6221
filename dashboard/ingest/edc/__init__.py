"""EDC exports in: REDCap and CDISC ODM read through a mapping file into an export package of the
CRF spec, which the build then validates, blinds and publishes like any other (docs/edc.md)."""
