-- Worker reports: the client-hash salt and the rate limit's index (sql/common/report_limits.sql).

-- @include report_limits
