-- What README's "main job" runs until `squatch hunt` exists: one list of what
-- needs a look on this host, worst first. A distribution squatch could not
-- verify is listed too (kind `package_unverified`, with the reason), so that
-- a tampered file behind an unreadable or padded file list does not vanish.
SELECT * FROM (
  SELECT 'install_finding' AS kind, severity, package AS subject,
         rule_id || ' ' || path || ':' || line AS detail
    FROM python_install_findings
   WHERE severity IN ('high', 'critical')
  UNION ALL
  SELECT 'typosquat', CASE WHEN known_malicious = 1 THEN 'critical' ELSE 'high' END, name,
         'imitates ' || target || ' (' || technique || ') in ' || environments
    FROM python_typosquat_scores
   WHERE flagged = 1
  UNION ALL
  SELECT 'package_changed', 'medium', name,
         environment || ': ' || record_status || ' (' || files_modified || ' modified, '
           || files_missing || ' missing, ' || files_unrecorded || ' unrecorded)'
    FROM python_package_provenance
   WHERE record_status IN ('modified', 'missing', 'unrecorded')
  UNION ALL
  SELECT 'package_unverified', 'low', name,
         environment || ': ' || status
    FROM python_package_provenance
   WHERE record_status = 'unverified'
)
ORDER BY CASE severity WHEN 'critical' THEN 0 WHEN 'high' THEN 1 ELSE 2 END, kind, subject;
