# fleetdeck_events: machine-readable event stream for fleetdeck.
#
# fleetdeck runs ansible-playbook as a child process and passes an extra pipe
# whose number is in FLEETDECK_EVENTS_FD. This plugin writes one JSON object
# per line to that fd. It is a *notification* callback, so the normal human
# output on stdout (default stdout callback) is left untouched and can be
# shown to the user as-is.
#
# Enable with:
#   ANSIBLE_CALLBACK_PLUGINS=<dir of this file>
#   ANSIBLE_CALLBACKS_ENABLED=fleetdeck_events
#   FLEETDECK_EVENTS_FD=<fd>
#
# Rule of this file: a bug or a closed pipe here must never break or change
# the playbook run, so every hook swallows its own exceptions. Nothing of a
# no_log result is written: ansible censors it first, and we check again.

from __future__ import annotations

DOCUMENTATION = """
    name: fleetdeck_events
    type: notification
    short_description: JSON-lines events for fleetdeck on an inherited fd
    description:
      - Writes one JSON object per line to the file descriptor named by
        the FLEETDECK_EVENTS_FD environment variable.
      - Does nothing when the variable is missing or not a usable fd.
    requirements:
      - enable in configuration (CALLBACKS_ENABLED)
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase

MSG_LIMIT = 500


def _attr(obj, name):
    # ansible-core 2.19 exposes result.host/.task/.result; the underscore
    # names are deprecated but are all that older cores have.
    value = getattr(obj, name, None)
    if value is None:
        value = getattr(obj, '_' + name, None)
    return value


def _task_name(task):
    if task is None:
        return ''
    try:
        name = task.get_name()
    except Exception:
        name = getattr(task, 'name', None)
    return str(name or getattr(task, 'action', '') or '')


def _text(value):
    if value is None:
        return ''
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str, sort_keys=True)
    except Exception:
        return str(value)


def _last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ''


HIDDEN = 'output hidden by no_log'


def _hidden(res):
    # ansible censors a no_log task's result before any callback sees it;
    # should a result still carry the flag, nothing of it is read here.
    return bool(res.get('_ansible_no_log')) or 'censored' in res


def _short_msg(res):
    # "msg" is what the default callback shows too. A failed command's msg is
    # only "non-zero return code"; the reason is usually the last output line.
    if _hidden(res):
        return HIDDEN
    went_wrong = _first_item_gone_wrong(res)
    if went_wrong is not None:
        return _short_msg(went_wrong)
    msg = _text(res.get('msg'))
    tail = _last_line(_text(res.get('stderr'))) or _last_line(_text(res.get('stdout')))
    if not msg:
        msg = tail
    elif tail and res.get('rc') not in (None, 0):
        msg = '%s (rc=%s): %s' % (msg, res.get('rc'), tail)
    return _clip(msg)


def _first_item_gone_wrong(res):
    # A loop's own result says only "All items completed" (even when every item
    # was unreachable); what went wrong is in its items, the first one says it.
    results = res.get('results')
    if not isinstance(results, list):
        return None
    for item in results:
        if isinstance(item, dict) and (item.get('unreachable') or item.get('failed')):
            return item
    return None


def _clip(msg):
    # A long message keeps its head and its last line: the last words often say
    # what went wrong (ssh's "Host key verification failed." after its banner).
    if len(msg) <= MSG_LIMIT:
        return msg
    last = _last_line(msg)[-(MSG_LIMIT // 2):]
    return msg[:MSG_LIMIT - len(last) - 3] + ' … ' + last


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'notification'
    CALLBACK_NAME = 'fleetdeck_events'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._out = None
        self._play = ''
        self._task = ''
        try:
            fd = int(os.environ.get('FLEETDECK_EVENTS_FD', ''))
            # A pipe handed over by fleetdeck survived exec, so it is
            # inheritable; fds that Python opened itself are not. This keeps
            # a stale fd number from scribbling into one of ansible's files.
            if not os.get_inheritable(fd):
                return
            # closefd=False: the fd belongs to whoever started us.
            self._out = os.fdopen(fd, 'w', buffering=1, encoding='utf-8', closefd=False)
        except Exception:
            self._out = None

    def _emit(self, event, **fields):
        if self._out is None:
            return
        obj = {'event': event, 'ts': time.time()}
        obj.update(fields)
        try:
            # ensure_ascii keeps every line plain ASCII whatever odd bytes a
            # module printed; json escapes keep the text recoverable.
            self._out.write(json.dumps(obj, ensure_ascii=True, default=str) + '\n')
            self._out.flush()
        except Exception:
            # Reader went away (broken pipe): stop trying, keep the run going.
            self._out = None

    def _result_parts(self, result):
        host = _attr(result, 'host')
        res = _attr(result, 'result') or {}
        return (host.get_name() if host is not None else '',
                _task_name(_attr(result, 'task')),
                res)

    def _host_result(self, result, status, ignored=False):
        host, task, res = self._result_parts(result)
        if status == 'ok' and res.get('changed'):
            status = 'changed'
        self._emit('host_result', host=host, task=task, status=status,
                   ignored=bool(ignored), msg=_short_msg(res))

    def _item_result(self, result, status):
        host, task, res = self._result_parts(result)
        if status == 'ok' and res.get('changed'):
            status = 'changed'
        item = HIDDEN if _hidden(res) else _text(self._get_item_label(res))
        self._emit('item_result', host=host, task=task, status=status,
                   item=item[:MSG_LIMIT])

    # playbook / play / task structure

    def v2_playbook_on_start(self, playbook):
        try:
            name = getattr(playbook, '_file_name', '') or ''
            self._emit('playbook_start', playbook=os.path.basename(str(name)))
        except Exception:
            pass

    def v2_playbook_on_play_start(self, play):
        try:
            self._play = str(play.get_name() or '')
            self._emit('play_start', play=self._play)
        except Exception:
            pass

    def v2_playbook_on_task_start(self, task, is_conditional):
        try:
            self._task = _task_name(task)
            self._emit('task_start', task=self._task, handler=False)
        except Exception:
            pass

    def v2_playbook_on_handler_task_start(self, task):
        try:
            self._task = _task_name(task)
            self._emit('task_start', task=self._task, handler=True)
        except Exception:
            pass

    def v2_playbook_on_no_hosts_matched(self):
        try:
            # Emitted before any task of the play runs: name the play.
            self._emit('no_hosts', kind='matched', task_or_play=self._play)
        except Exception:
            pass

    def v2_playbook_on_no_hosts_remaining(self):
        try:
            # Emitted after every host failed: name the task that ended it.
            self._emit('no_hosts', kind='remaining', task_or_play=self._task or self._play)
        except Exception:
            pass

    # per-host results

    def v2_runner_on_ok(self, result):
        try:
            self._host_result(result, 'ok')
        except Exception:
            pass

    def v2_runner_on_failed(self, result, ignore_errors=False):
        try:
            self._host_result(result, 'failed', ignored=ignore_errors)
        except Exception:
            pass

    def v2_runner_on_skipped(self, result):
        try:
            self._host_result(result, 'skipped')
        except Exception:
            pass

    def v2_runner_on_unreachable(self, result):
        try:
            self._host_result(result, 'unreachable')
        except Exception:
            pass

    def v2_runner_item_on_ok(self, result):
        try:
            self._item_result(result, 'ok')
        except Exception:
            pass

    def v2_runner_item_on_failed(self, result):
        try:
            self._item_result(result, 'failed')
        except Exception:
            pass

    def v2_runner_item_on_skipped(self, result):
        try:
            self._item_result(result, 'skipped')
        except Exception:
            pass

    def v2_runner_retry(self, result):
        try:
            host, task, res = self._result_parts(result)
            self._emit('runner_retry', host=host, task=task,
                       attempt=int(res.get('attempts') or 0),
                       retries=int(res.get('retries') or 0))
        except Exception:
            pass

    def v2_playbook_on_stats(self, stats):
        try:
            hosts = {h: stats.summarize(h) for h in sorted(stats.processed.keys())}
            self._emit('stats', hosts=hosts)
        except Exception:
            pass
