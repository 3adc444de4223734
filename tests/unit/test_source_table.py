"""The classifier against the referrers, tags and user agents creators actually see, each with the source
and channel a creator would name it by (issue 17). One row per case; the table is the specification."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.domain.bots import is_bot
from core.domain.channels import Channel
from core.domain.touches import touch_from_landing

SITE = "https://mycourse.com/"
OWN = frozenset({"mycourse.com"})
WHEN = datetime(2026, 3, 1, tzinfo=UTC)

PS, PSo, DIS = Channel.PAID_SEARCH, Channel.PAID_SOCIAL, Channel.DISPLAY
OS, OSo, OV = Channel.ORGANIC_SEARCH, Channel.ORGANIC_SOCIAL, Channel.ORGANIC_VIDEO
AI, EM, POD = Channel.AI_ASSISTANTS, Channel.EMAIL, Channel.PODCAST
REF, AFF, DIR, PV = Channel.REFERRAL, Channel.AFFILIATES, Channel.DIRECT, Channel.PAID_VIDEO

# (referrer, source, channel): a visit from that page, with no tags on the link.
REFERRERS = [
    # search engines, with their country domains folded into the network
    ("https://www.google.com/", "Google", OS),
    ("https://www.google.co.uk/", "Google", OS),
    ("https://www.google.de/", "Google", OS),
    ("https://www.google.com.au/", "Google", OS),
    ("https://google.com.br/", "Google", OS),
    ("https://www.google.co.jp/", "Google", OS),
    ("https://news.google.com/", "Google", OS),
    ("https://www.bing.com/", "Bing", OS),
    ("https://cn.bing.com/", "Bing", OS),
    ("https://duckduckgo.com/", "DuckDuckGo", OS),
    ("https://search.yahoo.com/", "Yahoo", OS),
    ("https://uk.search.yahoo.com/", "Yahoo", OS),
    ("https://search.yahoo.co.jp/", "Yahoo Japan", OS),
    ("https://yandex.ru/", "Yandex", OS),
    ("https://yandex.com.tr/", "Yandex", OS),
    ("https://www.baidu.com/", "Baidu", OS),
    ("https://www.ecosia.org/", "Ecosia", OS),
    ("https://search.brave.com/", "Brave", OS),
    ("https://kagi.com/", "Kagi", OS),
    ("https://www.qwant.com/", "Qwant", OS),
    ("https://www.startpage.com/", "Startpage", OS),
    ("https://search.naver.com/", "Naver", OS),
    ("https://search.seznam.cz/", "Seznam", OS),
    ("https://www.seznam.cz/", "seznam.cz", REF),
    # Google's products that are not its search, and look-alikes that are not Google at all
    ("https://docs.google.com/document/d/1", "Google Docs", REF),
    ("https://drive.google.com/", "Google Drive", REF),
    ("https://classroom.google.com/", "Google Classroom", REF),
    ("https://sites.google.com/view/teacher", "Google Sites", REF),
    ("https://translate.google.com/", "Google Translate", REF),
    ("https://google.blogspot.com/", "google.blogspot.com", REF),
    ("https://google.evil/", "google.evil", REF),
    ("https://www.google-courses.com/", "google-courses.com", REF),
    ("https://news.yahoo.com/article", "news.yahoo.com", REF),
    ("https://edition.cnn.com/2026/01/01/tech", "edition.cnn.com", REF),
    # AI assistants: one source each, however many hosts
    ("https://chatgpt.com/", "ChatGPT", AI),
    ("https://chat.openai.com/", "ChatGPT", AI),
    ("https://www.perplexity.ai/", "Perplexity", AI),
    ("https://perplexity.ai/", "Perplexity", AI),
    ("https://gemini.google.com/app", "Gemini", AI),
    ("https://bard.google.com/", "Gemini", AI),
    ("https://claude.ai/", "Claude", AI),
    ("https://copilot.microsoft.com/", "Copilot", AI),
    ("https://chat.deepseek.com/", "DeepSeek", AI),
    ("https://chat.mistral.ai/", "Mistral Le Chat", AI),
    ("https://www.meta.ai/", "Meta AI", AI),
    ("https://grok.com/", "Grok", AI),
    ("https://you.com/", "You.com", AI),
    ("https://notebooklm.google.com/", "NotebookLM", AI),
    # social networks, their short links and national sites
    ("https://www.facebook.com/", "Facebook", OSo),
    ("https://m.facebook.com/", "Facebook", OSo),
    ("https://l.facebook.com/", "Facebook", OSo),
    ("https://lm.facebook.com/", "Facebook", OSo),
    ("https://www.facebook.de/", "Facebook", OSo),
    ("https://de-de.facebook.com/", "Facebook", OSo),
    ("https://l.instagram.com/", "Instagram", OSo),
    ("https://www.instagram.com/", "Instagram", OSo),
    ("https://t.co/abc", "X", OSo),
    ("https://x.com/", "X", OSo),
    ("https://twitter.com/", "X", OSo),
    ("https://www.linkedin.com/", "LinkedIn", OSo),
    ("https://lnkd.in/abc", "LinkedIn", OSo),
    ("https://www.pinterest.com/", "Pinterest", OSo),
    ("https://www.pinterest.co.uk/", "Pinterest", OSo),
    ("https://www.pinterest.de/", "Pinterest", OSo),
    ("https://pin.it/abc", "Pinterest", OSo),
    ("https://www.reddit.com/r/learnpython", "Reddit", OSo),
    ("https://old.reddit.com/", "Reddit", OSo),
    ("https://out.reddit.com/", "Reddit", OSo),
    ("https://www.threads.net/", "Threads", OSo),
    ("https://bsky.app/", "Bluesky", OSo),
    ("https://www.tiktok.com/", "TikTok", OSo),
    ("https://news.ycombinator.com/item?id=1", "Hacker News", OSo),
    ("https://linktr.ee/creator", "Linktree", OSo),
    ("https://medium.com/@creator/post", "Medium", OSo),
    ("https://www.quora.com/", "Quora", OSo),
    ("https://t.me/channel", "Telegram", OSo),
    ("https://discord.com/channels/1", "Discord", OSo),
    ("https://app.slack.com/", "Slack", OSo),
    ("https://mastodon.social/", "Mastodon", OSo),
    ("https://vk.com/", "VK", OSo),
    ("https://www.tumblr.com/", "Tumblr", OSo),
    # video
    ("https://www.youtube.com/", "YouTube", OV),
    ("https://m.youtube.com/", "YouTube", OV),
    ("https://youtu.be/abc", "YouTube", OV),
    ("https://vimeo.com/123", "Vimeo", OV),
    ("https://www.twitch.tv/creator", "Twitch", OV),
    # newsletters and webmail
    ("https://creator.substack.com/p/post", "Substack", EM),
    ("https://another-writer.substack.com/", "Substack", EM),
    ("https://substack.com/inbox", "Substack", EM),
    ("https://link.mail.beehiiv.com/", "Beehiiv", EM),
    ("https://newsletter.beehiiv.com/p/issue", "Beehiiv", EM),
    ("https://click.convertkit-mail2.com/abc", "ConvertKit", EM),
    ("https://creator.ck.page/offer", "ConvertKit", EM),
    ("https://mailchi.mp/creator/issue", "Mailchimp", EM),
    ("https://us5.list-manage.com/", "Mailchimp", EM),
    ("https://mail.google.com/", "Email", EM),
    ("https://outlook.live.com/", "Email", EM),
    ("https://outlook.office.com/", "Email", EM),
    ("https://mail.yahoo.com/", "Email", EM),
    ("https://mail.yahoo.co.jp/", "Email", EM),
    ("https://mail.yandex.ru/", "Email", EM),
    ("https://mail.proton.me/", "Email", EM),
    ("https://e.mail.ru/", "Email", EM),
    # podcast apps
    ("https://podcasts.apple.com/us/podcast/id1", "Apple Podcasts", POD),
    ("https://open.spotify.com/episode/1", "Spotify", POD),
    ("https://overcast.fm/+abc", "Overcast", POD),
    ("https://pca.st/abc", "Pocket Casts", POD),
    ("https://castbox.fm/episode/1", "Castbox", POD),
    ("https://www.podbean.com/", "Podbean", POD),
    # ad click hosts
    ("https://www.googleadservices.com/pagead/aclk", "Google", PS),
    ("https://ad.doubleclick.net/", "Google", DIS),
    ("https://tpc.googlesyndication.com/", "Google", DIS),
    # everything else: the host, as the creator would recognise it
    ("https://blog.example.org/post", "blog.example.org", REF),
    ("https://www.partner-site.com/", "partner-site.com", REF),
    ("https://en.wikipedia.org/wiki/Course", "Wikipedia", REF),
    ("https://www.notion.so/page", "Notion", REF),
]

# (landing page query, referrer or None, source, channel)
TAGGED = [
    ("utm_source=youtube&utm_medium=video", None, "YouTube", OV),
    ("utm_source=yt", None, "YouTube", OV),
    ("utm_source=YouTube", None, "YouTube", OV),
    ("utm_source=YOUTUBE&utm_medium=social", None, "YouTube", OSo),
    ("utm_source=youtube.com", None, "YouTube", OV),
    ("utm_source=youtube&utm_medium=cpc", None, "YouTube", PV),
    ("utm_source=ig&utm_medium=social", None, "Instagram", OSo),
    ("utm_source=instagram&utm_medium=bio", "https://l.instagram.com/", "Instagram", OSo),
    ("utm_source=fb", None, "Facebook", OSo),
    ("utm_source=facebook&utm_medium=paid_social&fbclid=IwAR1", "https://m.facebook.com/", "Facebook", PSo),
    ("utm_source=facebook-ads", None, "Facebook", PSo),
    ("utm_source=meta&utm_medium=cpc", None, "Facebook", PSo),
    ("utm_source=google&utm_medium=cpc", None, "Google", PS),
    ("utm_source=google&utm_medium=organic", None, "Google", OS),
    ("utm_source=google&gclid=abc", None, "Google", PS),
    ("utm_source=adwords", None, "Google", PS),
    ("utm_source=bing&utm_medium=ppc", None, "Bing", PS),
    ("utm_source=twitter", None, "X", OSo),
    ("utm_source=x.com", None, "X", OSo),
    ("utm_source=linkedin&utm_medium=social", None, "LinkedIn", OSo),
    ("utm_source=tiktok&utm_medium=paid", None, "TikTok", PSo),
    ("utm_source=pinterest", None, "Pinterest", OSo),
    ("utm_source=reddit", None, "Reddit", OSo),
    ("utm_source=newsletter&utm_medium=email", None, "Email", EM),
    ("utm_source=email", None, "Email", EM),
    ("utm_source=convertkit&utm_medium=email", None, "ConvertKit", EM),
    ("utm_source=kit", None, "ConvertKit", EM),
    ("utm_source=substack", None, "Substack", EM),
    ("utm_source=beehiiv&utm_medium=newsletter", None, "Beehiiv", EM),
    ("utm_source=mailchimp", None, "Mailchimp", EM),
    ("utm_source=podcast", None, "Podcast", POD),
    ("utm_source=podcast&utm_medium=audio", None, "Podcast", POD),
    ("utm_source=Podcast", None, "Podcast", POD),
    ("utm_source=spotify", None, "Spotify", POD),
    ("utm_source=apple_podcasts", None, "Apple Podcasts", POD),
    ("utm_source=chatgpt.com", "https://chatgpt.com/", "ChatGPT", AI),
    ("utm_source=chatgpt.com", None, "ChatGPT", AI),
    ("utm_source=perplexity", None, "Perplexity", AI),
    ("utm_source=claude.ai", None, "Claude", AI),
    ("utm_source=partner-blog&utm_medium=affiliate", None, "Partner Blog", AFF),
    ("utm_source=partner_blog", None, "Partner Blog", REF),
    ("utm_source=ck", None, "Ck", REF),
    ("utm_source=summit%202026&utm_medium=referral", None, "Summit 2026", REF),
    ("utm_source=iPhone-app", None, "Iphone App", REF),
    ("utm_source=PARTNER_BLOG", None, "Partner Blog", REF),
    ("utm_source=Jane's%20list&utm_medium=email", None, "Jane's List", EM),
    ("utm_source=display-network&utm_medium=banner", None, "Display Network", DIS),
    ("utm_medium=email", None, "Email", EM),
    ("utm_medium=podcast", None, "Podcast", POD),
    ("utm_medium=cpc&gclid=abc", None, "Google", PS),
    ("gclid=abc", None, "Google", PS),
    ("gbraid=abc", None, "Google", PS),
    ("wbraid=abc", "https://www.google.com/", "Google", PS),
    ("msclkid=abc", "https://www.bing.com/", "Bing", PS),
    ("dclid=abc", None, "Google", DIS),
    ("twclid=abc", "https://t.co/x", "X", PSo),
    ("epik=abc", None, "Pinterest", PSo),
    ("fbclid=abc", "https://l.facebook.com/", "Facebook", OSo),
    ("fbclid=abc", None, "Facebook", OSo),
    ("ttclid=abc", None, "TikTok", OSo),
    ("", None, "Direct", DIR),
    ("", "https://mycourse.com/blog", "Direct", DIR),
    ("", "https://checkout.stripe.com/pay/cs_1", "Direct", DIR),
    ("", "android-app://com.google.android.youtube", "YouTube", OV),
    ("", "android-app://com.google.android.gm", "Email", EM),
    ("", "android-app://com.openai.chatgpt", "ChatGPT", AI),
    ("", "android-app://com.spotify.music", "Spotify", POD),
    ("", "android-app://com.linkedin.android/", "LinkedIn", OSo),
    ("", "android-app://com.google.android.googlequicksearchbox/https/www.google.com", "Google", OS),
]

# (user agent, whether it is automated)
USER_AGENTS = [
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", True),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Google-InspectionTool/1.0;)",
        True,
    ),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/65.0.3325.181 "
        "Safari/537.36 (compatible; Google-Read-Aloud; +https://support.google.com/webmasters/answer/1061943)",
        True,
    ),
    ("Mozilla/5.0 (compatible; Yeti/1.1; +https://naver.me/spd)", True),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", True),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", True),
    ("Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)", True),
    ("DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)", True),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)", True),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot", True),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", True),
    ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0)", True),
    ("WhatsApp/2.23.20.0 A", True),
    ("WhatsApp/2.2407.3 i", True),
    ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", True),
    ("Slack-ImgProxy (+https://api.slack.com/robots)", True),
    ("Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)", True),
    # iMessage's link preview
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 "
        "Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        True,
    ),
    ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", True),
    ("Twitterbot/1.0", True),
    ("LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)", True),
    ("TelegramBot (like TwitterBot)", True),
    ("Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)", True),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36",
        True,
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/118.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
        True,
    ),
    ("Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)", True),
    ("Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", True),
    ("curl/8.4.0", True),
    ("Wget/1.21.4", True),
    ("python-requests/2.31.0", True),
    ("python-httpx/0.27.0", True),
    ("Go-http-client/2.0", True),
    ("axios/1.6.7", True),
    ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", True),
    ("Scrapy/2.11.0 (+https://scrapy.org)", True),
    ("", True),
    ("   ", True),
    # real browsers and phones, "bot" in a phone's name included
    (
        "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Mobile Safari/537.36",
        False,
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; KING_KONG_3 Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Version/4.0 Chrome/70.0.3538.110 Mobile Safari/537.36 cubot",
        False,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Mobile/15E148 Safari/604.1",
        False,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Mobile/15E148 Instagram 325.0.0.0.45 (iPhone15,2; iOS 17_4; en_US)",
        False,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
        "Mobile Safari/537.36",
        False,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 "
        "Safari/537.36 Edg/130.0.0.0",
        False,
    ),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0", False),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.1 Safari/605.1.15",
        False,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
        False,
    ),
    (
        "Mozilla/5.0 (Linux; Android 12; M2101K6G) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
        "Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/445.0.0.34.118;]",
        False,
    ),
]


def _touch(query: str, referrer: str | None):  # type: ignore[no-untyped-def]
    url = f"{SITE}?{query}" if query else SITE
    return touch_from_landing(url=url, referrer=referrer, occurred_at=WHEN, own_domains=OWN)


def test_the_table_has_at_least_150_cases() -> None:
    assert len(REFERRERS) + len(TAGGED) + len(USER_AGENTS) >= 150


@pytest.mark.parametrize(("referrer", "source", "channel"), REFERRERS, ids=[r[0] for r in REFERRERS])
def test_a_referrer_is_named_as_a_creator_knows_it(referrer: str, source: str, channel: Channel) -> None:
    touch = _touch("", referrer)
    assert (touch.source, touch.channel) == (source, channel)


@pytest.mark.parametrize(("query", "referrer", "source", "channel"), TAGGED, ids=[f"{q}|{r}" for q, r, _, _ in TAGGED])
def test_tags_and_click_ids_are_named_as_a_creator_knows_them(
    query: str, referrer: str | None, source: str, channel: Channel
) -> None:
    touch = _touch(query, referrer)
    assert (touch.source, touch.channel) == (source, channel)


@pytest.mark.parametrize(("user_agent", "automated"), USER_AGENTS, ids=[u[:60] for u, _ in USER_AGENTS])
def test_automated_user_agents_are_dropped_and_people_kept(user_agent: str, automated: bool) -> None:
    assert is_bot(user_agent) is automated
