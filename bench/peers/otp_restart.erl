%% otp_restart.erl - OTP's side of bench/peers: the fresh-thread restart row
%% of bench/restart.c done by OTP's own supervisor, as a server that run.sh
%% drives rep by rep (the protocol is in lib_restart.c):
%%
%%   out: "ready OTP <release> erts-<version> <emu flavor>"
%%   in:  "rep fresh|noint WARM_MS WINDOW_MS"
%%   out: "ok RUNS_PER_S P50_NS P99_NS SAMPLES WARM_RUNS_PER_S WARM_P50_NS
%%        RESTART_LIST_LENGTH" (one line)
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
%% "noint" does the same with supv_noint instead of supervisor: a copy of
%% OTP's own supervisor.erl that run.sh makes from Debian's erlang-src, with
%% only its module name changed and add_restart/1 made to return {ok, State}
%% at once, so that it keeps no list of restarts (and can never give up).
%% It is not OTP as shipped; it shows what the restart list costs.
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
                    rep(A, supervisor, list_to_integer(W), list_to_integer(D)),
                    loop(A);
                ["rep", "noint", W, D] ->
                    case code:ensure_loaded(supv_noint) of
                        {module, _} ->
                            rep(A, supv_noint, list_to_integer(W), list_to_integer(D));
                        _ ->
                            io:format("error no supv_noint~n")
                    end,
                    loop(A);
                _ ->
                    io:format("error bad command: ~s", [Line]),
                    loop(A)
            end
    end.

rep(A, SupModule, WarmMs, WindowMs) ->
    [atomics:put(A, I, 0) || I <- [?FAIL, ?RUNS, ?N]],
    atomics:put(A, ?REC, 1),
    {ok, Sup} = SupModule:start_link(?MODULE, A),
    Ts = erlang:monotonic_time(nanosecond),
    timer:sleep(WarmMs),
    R0 = atomics:get(A, ?RUNS),
    T0 = erlang:monotonic_time(nanosecond),
    Nw = atomics:get(A, ?N),
    timer:sleep(WindowMs),
    atomics:put(A, ?REC, 0),
    R1 = atomics:get(A, ?RUNS),
    T1 = erlang:monotonic_time(nanosecond),
    L = restart_list_length(Sup),
    ok = gen_server:stop(Sup),
    N = min(atomics:get(A, ?N), ?CAP),
    Sw = lists:sort([atomics:get(A, ?SAMP + I) || I <- lists:seq(0, Nw - 1)]),
    S = lists:sort([atomics:get(A, ?SAMP + I) || I <- lists:seq(Nw, N - 1)]),
    io:format("ok ~.1f ~s ~s ~b ~.1f ~s ~s~n",
              [(R1 - R0) * 1.0e9 / (T1 - T0), q(S, N - Nw, 0.50), q(S, N - Nw, 0.99),
               N - Nw, R0 * 1.0e9 / (T0 - Ts), q(Sw, Nw, 0.50), L]).

%% How many restarts the supervisor keeps for its intensity check: the
%% restarts field of supervisor.erl's #state{} record (OTP 25's layout;
%% "?" if the state is not what this expects).
restart_list_length(Sup) ->
    case sys:get_state(Sup) of
        St when is_tuple(St), element(1, St) =:= state, tuple_size(St) >= 8,
                is_list(element(8, St)) ->
            integer_to_list(length(element(8, St)));
        _ -> "?"
    end.

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
