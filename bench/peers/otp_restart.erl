%% otp_restart.erl - OTP's side of bench/peers: the fresh-thread restart row
%% of bench/restart.c done by OTP's own supervisor, as a server that run.sh
%% drives rep by rep (the protocol is in lib_restart.c):
%%
%%   out: "ready OTP <release> erts-<version> <emu flavor>"
%%   in:  "rep fresh WARM_MS WINDOW_MS"
%%   out: "ok RUNS_PER_S P50_NS P99_NS SAMPLES"
%%   in:  "quit" (or end of input)
%%
%% A rep starts a fresh supervisor (this module's init/1): one_for_one,
%% intensity 1 bsl 40 in a period of 1 s (it never gives up), with one
%% permanent worker whose start function spawn_links a process that runs
%% body/1 and exits with reason fail at once.  body/1 is bench/restart.c's
%% worker body: first thing, it takes erlang:monotonic_time(nanosecond)
%% (clock_gettime(CLOCK_MONOTONIC) on Linux; run.sh passes +c false so that
%% no time correction is applied to it) and, while recording, stores now
%% minus the time the previous run stored just before it exited; then it
%% counts the run, stores now, and exits.  Shared state is an atomics
%% array, the BEAM's equivalent of the C side's atomics.
%%
%% run.sh sets the logger's primary level to none (-kernel logger_level
%% none): otherwise every exit makes the supervisor log an error report
%% (child_terminated), which libsupervise does not do without an on_event
%% callback.
-module(otp_restart).
-behaviour(supervisor).
-export([main/0, init/1, start_child/1, body/1]).

-define(FAIL, 1).     % when the last run decided to fail (ERTS monotonic
                      % time is negative here); 0: none yet
-define(RUNS, 2).     % runs entered
-define(REC, 3).      % 1: record latencies now
-define(N, 4).        % samples stored
-define(SAMP, 5).     % first sample
-define(CAP, (1 bsl 22)).

main() ->
    A = atomics:new(?SAMP - 1 + ?CAP, [{signed, true}]),
    io:format("ready OTP ~s erts-~s ~s~n",
              [erlang:system_info(otp_release), erlang:system_info(version),
               erlang:system_info(emu_flavor)]),
    loop(A),
    halt(0).

loop(A) ->
    case io:get_line("") of
        eof -> ok;
        {error, _} -> ok;
        Line ->
            case string:lexemes(string:trim(Line), " ") of
                ["quit"] -> ok;
                ["rep", "fresh", W, D] ->
                    rep(A, list_to_integer(W), list_to_integer(D)),
                    loop(A);
                _ ->
                    io:format("error bad command: ~s", [Line]),
                    loop(A)
            end
    end.

rep(A, WarmMs, WindowMs) ->
    [atomics:put(A, I, 0) || I <- [?FAIL, ?RUNS, ?REC, ?N]],
    {ok, Sup} = supervisor:start_link(?MODULE, A),
    timer:sleep(WarmMs),
    R0 = atomics:get(A, ?RUNS),
    T0 = erlang:monotonic_time(nanosecond),
    atomics:put(A, ?REC, 1),
    timer:sleep(WindowMs),
    atomics:put(A, ?REC, 0),
    R1 = atomics:get(A, ?RUNS),
    T1 = erlang:monotonic_time(nanosecond),
    ok = gen_server:stop(Sup),
    N = min(atomics:get(A, ?N), ?CAP),
    S = lists:sort([atomics:get(A, ?SAMP + I) || I <- lists:seq(0, N - 1)]),
    io:format("ok ~.1f ~s ~s ~b~n",
              [(R1 - R0) * 1.0e9 / (T1 - T0), q(S, N, 0.50), q(S, N, 0.99), N]).

%% The p-quantile (nearest rank) of the sorted list S of length N.
q(_, 0, _) -> "nan";
q(S, N, P) ->
    K = max(1, min(N, ceil(P * N))),
    integer_to_list(lists:nth(K, S)).

init(A) ->
    {ok, {#{strategy => one_for_one, intensity => 1 bsl 40, period => 1},
          [#{id => w, start => {?MODULE, start_child, [A]},
             restart => permanent, shutdown => brutal_kill, type => worker}]}}.

start_child(A) ->
    {ok, spawn_link(?MODULE, body, [A])}.

body(A) ->
    T = erlang:monotonic_time(nanosecond),
    F = atomics:get(A, ?FAIL),
    case F =/= 0 andalso atomics:get(A, ?REC) =:= 1 of
        true ->
            I = atomics:get(A, ?N),
            if I < ?CAP ->
                    atomics:put(A, ?SAMP + I, T - F),
                    atomics:put(A, ?N, I + 1);
               true -> ok
            end;
        false -> ok
    end,
    atomics:add(A, ?RUNS, 1),
    atomics:put(A, ?FAIL, erlang:monotonic_time(nanosecond)),
    exit(fail).
