# Prints include/supervise.h as an older version of it would read: the
# last member of every struct a caller allocates is gone.  The growth-safe
# structs test (test/abi_old.c) is built against it.
/^struct [a-z_]+ \{/ && $2 != "supv_event" {
	inside = 1
	n = 0
}
inside {
	buf[n++] = $0
	if ($0 ~ /^\};/) {
		last = -1
		for (i = 1; i < n - 1; i++)
			if (buf[i] ~ /^\t[A-Za-z_]/)
				last = i
		for (i = 0; i < n; i++)
			if (i < last || i == n - 1 || last < 0)
				print buf[i]
		inside = 0
	}
	next
}
{ print }
