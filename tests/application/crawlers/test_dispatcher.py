"""The dispatcher picks a crawler by URL; the custom-article crawler is the fallback."""

import pytest

from llm_twin.application.crawlers import build_dispatcher
from llm_twin.application.crawlers.custom_article import CustomArticleCrawler
from llm_twin.application.crawlers.github import GithubCrawler
from llm_twin.application.crawlers.linkedin import LinkedInCrawler
from llm_twin.application.crawlers.medium import MediumCrawler


@pytest.mark.parametrize(
    ("link", "crawler", "platform"),
    [
        ("https://medium.com/@jane/some-story-1a2b3c", MediumCrawler, "medium"),
        ("https://jane.medium.com/some-story-1a2b3c", MediumCrawler, "medium"),
        ("https://decodingml.substack.com/p/post", CustomArticleCrawler, "substack"),
        ("https://www.linkedin.com/in/jane-doe/", LinkedInCrawler, "linkedin"),
        ("https://github.com/jane/toolkit", GithubCrawler, "github"),
        ("https://github.com/jane/toolkit/tree/main/src", GithubCrawler, "github"),
        ("git://git.example.org/toolkit.git", GithubCrawler, "git"),
        ("https://gitlab.example.org/jane/toolkit.git", GithubCrawler, "git"),
        ("https://www.janedoe.dev/posts/lora/", CustomArticleCrawler, "janedoe.dev"),
    ],
)
def test_routes(settings, link: str, crawler: type, platform: str) -> None:
    with build_dispatcher(settings) as dispatcher:
        route = dispatcher.route(link)
    assert isinstance(route.crawler, crawler)
    assert route.platform == platform


def test_override_sends_a_custom_domain_to_a_platform_crawler(settings) -> None:
    with build_dispatcher(settings) as dispatcher:
        dispatcher.override("https://pub.towardsai.net/", "medium")
        route = dispatcher.route("https://pub.towardsai.net/a-story-123")
        assert isinstance(route.crawler, MediumCrawler)
        assert dispatcher.route("https://other.net/a").platform == "other.net"
        with pytest.raises(ValueError, match="unknown platform 'myspace'"):
            dispatcher.override("https://x.org/", "myspace")
