-- The arm of each randomized subject in the new cut: closed warehouse only (the blinded file has
-- no arm; a blinded difference never runs this).
select subjid, arm from cut_new.subjects where randomized
