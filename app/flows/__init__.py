"""Work that spans domains: each flow calls the domains it needs, in one transaction."""
