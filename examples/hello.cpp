// hello.cpp: libsupervise from C++.  ./hello parses a list of numbers, two
// of which are bad; the parser fails on each and is restarted, carrying on
// after it, and the tree ends by itself once the list is done (exit 0).
//
// What C++ changes:
//  - option structs are named objects, value-initialized with {} (every
//    field zero: its default) and set field by field: C's compound
//    literals, &(struct supv_opts){ ... }, are not C++;
//  - no exception may leave a worker, a task or a callback: the threads
//    that call them are the library's, in C, and an exception that
//    escapes one ends the process (std::terminate, then abort());
//  - with SUPV_TIMEOUT_CANCEL, a catch (...) must let the forced unwind
//    that cancels the thread go on (abi::__forced_unwind, rethrown).
#include <cxxabi.h>

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <supervise.h>

// The parser's work outlives its runs: a restarted run carries on after
// the input that failed.
struct Job {
	std::vector<std::string> inputs;
	size_t next = 0;
	long sum = 0;
};

// One run over the inputs left; std::stol throws on a bad one.
static int
parse(supv_worker *self, Job &job)
{
	while (job.next < job.inputs.size()) {
		if (supv_stopping(self))
			return 0;
		supv_heartbeat(self);
		job.sum += std::stol(job.inputs[job.next++]);
	}
	std::printf("hello: the sum of the good numbers is %ld\n", job.sum);
	return 0;
}

// The worker the library calls: no exception leaves it.
static int
parser(supv_worker *self, void *arg)
{
	Job &job = *static_cast<Job *>(arg);

	try {
		return parse(self, job);
	} catch (abi::__forced_unwind &) {
		throw;		// cancelled (SUPV_TIMEOUT_CANCEL): unwind on
	} catch (const std::exception &e) {
		std::fprintf(stderr, "hello: %s: \"%s\" is not a number (%s)\n",
		    supv_worker_id(self), job.inputs[job.next - 1].c_str(),
		    e.what());
		return 1;	// a failure: it is restarted
	} catch (...) {
		return 1;
	}
}

int
main()
{
	Job job;
	job.inputs = { "1", "2", "x", "3", "y", "4" };

	supv_opts opts{};
	opts.name = "hello";
	opts.intensity = 5;
	opts.auto_shutdown = SUPV_AUTO_ALL;	// ends when the parser is done
	opts.on_event = supv_log_stderr;

	supv_child_opts child{};
	child.id = "parser";
	child.restart = SUPV_TRANSIENT;		// restarted after a failure only
	child.significant = true;
	child.heartbeat_ms = 1000;
	child.on_timeout = SUPV_TIMEOUT_CANCEL;

	supv *root;
	if (supv_new(&root, &opts) != 0)
		return 1;
	if (supv_add_worker(root, &child, parser, &job) != 0 ||
	    supv_start(root) != 0) {
		supv_free(root);
		return 1;
	}
	supv_exit_kind why;
	supv_wait(root, &why);		// until the parser is done
	supv_free(root);
	return supv_exit_status(why);
}
