"""HELP and HELPOP: a few lines on each command the IRC door understands (704/705/706), or
``524`` for a topic it has none on. :data:`TOPICS` holds the lines; a command of the table
without any gets one that points to docs/irc.md; ``HELP`` alone lists the table's commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from palaver.protocol.dialect import Inbound
from palaver.protocol.irc.wire import IrcLine

if TYPE_CHECKING:
    from palaver.protocol.irc.dialect import IrcDialect

INDEX: Final = "*"

TOPICS: Final[dict[str, tuple[str, ...]]] = {
    "ACCOUNT": ("ACCOUNT PASSWORD <old> <new> | DELETE <password> | RESET <nick> <token> :<new>",
                "Change your account's password, delete it, or set it with an operator's reset "
                "token (RESET: before registering too)."),
    "AWAY": ("AWAY [:<message>]",
             "With a message you are away (shown to whoever messages you); without, back."),
    "CAP": ("CAP LS | LIST | REQ :<caps> | END",
            "Capability negotiation (IRCv3): echo-message, message-tags, server-time."),
    "FILE": ("FILE <channel|nick> <msgid>",
             "A link of your own to the file of a message ([file 41] ...: FILE #a 41), as a "
             "NOTICE."),
    "HELP": ("HELP [<command>]", "These lines. HELPOP is the same."),
    "HELPOP": ("HELPOP [<command>]", "The same as HELP."),
    "INFO": ("INFO", "What this server is."),
    "INVITE": ("INVITE <nick> <channel>", "Let someone into an invite-only channel."),
    "ISON": ("ISON <nick> [<nick>...]", "Which of these nicks are online."),
    "JOIN": ("JOIN <channel>[,<channel>...]", "Join (or create) channels."),
    "KICK": ("KICK <channel> <nick> [:<reason>]", "Put someone out of a channel (operators)."),
    "KILL": ("KILL <nick> [:<reason>]",
             "Disconnect a user (server operators: see OPER)."),
    "LINKS": ("LINKS [<mask>]", "The servers of this network: this one."),
    "LIST": ("LIST [<channel>[,<channel>...]]", "The channels, their users and topics."),
    "LUSERS": ("LUSERS", "How many users, operators, channels and connections there are."),
    "MODE": ("MODE <channel> [<changes> [<params>]] | MODE <nick> [+iw-iwo]",
             "Channel modes: those of ISUPPORT's CHANMODES and PREFIX. "
             "Your own modes: +i invisible, +w wallops, -o drop operator rights."),
    "MOTD": ("MOTD", "The message of the day."),
    "NAMES": ("NAMES <channel>[,<channel>...]", "Who is in a channel."),
    "NICK": ("NICK <nick>", "Change your nick."),
    "NOTICE": ("NOTICE <target>[,<target>...] :<text>",
               "Like PRIVMSG, but never answered automatically."),
    "OPER": ("OPER <name> <password>",
             "Become a server operator (with a login of the server's operator_logins)."),
    "PART": ("PART <channel>[,<channel>...] [:<reason>]", "Leave channels."),
    "PASS": ("PASS <password>", "Before registering: log in to the account of your nick."),
    "PING": ("PING <token>", "The server answers PONG."),
    "PONG": ("PONG <token>", "The answer to the server's PING."),
    "PRIVMSG": ("PRIVMSG <target>[,<target>...] :<text>",
                "A message to a channel or a nick."),
    "QUIT": ("QUIT [:<reason>]", "Leave the server."),
    "TAGMSG": ("TAGMSG <target>", "Client tags only (message-tags); not relayed."),
    "TIME": ("TIME", "The server's time."),
    "TOPIC": ("TOPIC <channel> [:<topic>]", "Show or set a channel's topic."),
    "USER": ("USER <username> 0 * :<realname>", "Registration: your username and realname."),
    "USERHOST": ("USERHOST <nick> [<nick>...]", "nick=+user@host of up to five nicks."),
    "VERSION": ("VERSION", "The server's version and what it supports."),
    "WALLOPS": ("WALLOPS :<text>",
                "To every user with mode +w (server operators only)."),
    "WHO": ("WHO [<channel> | <mask> [o | %<fields>[,<token>]]]",
            "Who is in a channel or matches a mask (nick, username, realname); WHOX "
            "fields tcuihsnfdlaor answer with 354. Invisible users (+i) you share no "
            "channel with are left out."),
    "WHOIS": ("WHOIS [<server>] <nick>[,<nick>...]",
              "About a user: username, realname, channels, away, operator, account, idle."),
    "WHOWAS": ("WHOWAS <nick> [<count>]",
               "Who had a nick before (newest first; count: how many, default all)."),
}
def topic(subject: str) -> tuple[str, ...] | None:
    """The lines on ``subject`` (a command, any case; ``*``: the index), or None."""
    from palaver.protocol.irc.table import COMMANDS  # the table imports this module

    verb = subject.upper()
    if verb == INDEX:
        verbs = sorted(COMMANDS)
        return ("palaver's IRC door. Commands (HELP <command> for more):",
                *(" ".join(verbs[i:i + 10]) for i in range(0, len(verbs), 10)))
    if verb in TOPICS:
        return TOPICS[verb]
    if verb in COMMANDS:
        return (verb, "See docs/irc.md.")
    return None


def on_help(irc: IrcDialect, line: IrcLine, out: list[Inbound]) -> None:
    subject = line.params[0] if line.params else INDEX
    text = topic(subject)
    if text is None:
        out.append(irc.num("524", subject, "No help available on this topic"))
        return
    first, *rest = text
    out.append(b"".join((irc.num("704", subject, first),
                         *(irc.num("705", subject, more) for more in rest),
                         irc.num("706", subject, "End of /HELP"))))
