-- The rows of EXPORT.csv (exactly one in a sound package).
select cutoffdat, exportdtc, specver, source from typed_export
