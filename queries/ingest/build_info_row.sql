select cutoff_date, exported, source, is_demo from build_info
