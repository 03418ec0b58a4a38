"""BagOfWords / TfIdf against scikit-learn's CountVectorizer / TfidfVectorizer on real corpora."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer

from nlp_course.data import lee_corpus, newsgroup_posts, polarity_sentences
from nlp_course.vectorizers import BagOfWords, TfIdf, textbook_tfidf


@pytest.fixture(scope="module")
def corpora():
    news = newsgroup_posts()[0]
    return {"news": news[:120], "news_test": news[120:], "lee": lee_corpus()[:150],
            "polarity": polarity_sentences()[0]}


@pytest.mark.parametrize("kwargs", [
    {}, {"ngram_range": (1, 2)}, {"ngram_range": (2, 3), "min_df": 2},
    {"min_df": 0.02, "max_df": 0.5}, {"binary": True}, {"lowercase": False}, {"max_df": 10},
])
def test_bag_of_words_matches_count_vectorizer(corpora, kwargs):
    for name in ("news", "lee", "polarity"):
        ours, ref = BagOfWords(**kwargs), CountVectorizer(**kwargs)
        a, b = ours.fit_transform(corpora[name]), ref.fit_transform(corpora[name])
        assert ours.vocabulary_ == ref.vocabulary_
        assert list(ours.get_feature_names_out()) == list(ref.get_feature_names_out())
        assert (a != b).nnz == 0
    assert (ours.transform(corpora["news_test"]) != ref.transform(corpora["news_test"])).nnz == 0


@pytest.mark.parametrize("norm", ["l2", "l1", None])
@pytest.mark.parametrize("smooth_idf", [True, False])
@pytest.mark.parametrize("sublinear_tf", [True, False])
def test_tfidf_matches_sklearn(corpora, norm, smooth_idf, sublinear_tf):
    kw = {"norm": norm, "smooth_idf": smooth_idf, "sublinear_tf": sublinear_tf,
          "ngram_range": (1, 2), "min_df": 2}
    ours, ref = TfIdf(**kw), TfidfVectorizer(**kw)
    a, b = ours.fit_transform(corpora["news"]), ref.fit_transform(corpora["news"])
    np.testing.assert_allclose(ours.idf_, ref.idf_, rtol=1e-12)
    np.testing.assert_allclose(a.toarray(), b.toarray(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.transform(corpora["news_test"]).toarray(),
                               ref.transform(corpora["news_test"]).toarray(), rtol=1e-10, atol=1e-12)


def test_tfidf_without_idf_and_empty_rows(corpora):
    docs = [*corpora["polarity"][:30], "", "a ! ?"]  # the last two have no 2+ letter tokens
    ours, ref = TfIdf(use_idf=False), TfidfVectorizer(use_idf=False)
    np.testing.assert_allclose(ours.fit_transform(docs).toarray(), ref.fit_transform(docs).toarray())
    assert ours.fit_transform(docs)[-1].nnz == 0


def test_textbook_tfidf_by_hand():
    docs = [["a", "b", "a"], ["a", "c"]]
    vocab, x = textbook_tfidf(docs)
    assert vocab == ["a", "b", "c"]
    # "a" is in every document -> idf = log(2/2) = 0; "b": tf 1/3, idf log 2
    np.testing.assert_allclose(x, [[0, np.log(2) / 3, 0], [0, 0, np.log(2) / 2]])


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        BagOfWords().fit([])
    with pytest.raises(ValueError, match="empty vocabulary"):
        BagOfWords().fit(["a", "!"])
    with pytest.raises(TypeError, match="list of str"):
        BagOfWords().fit("one string")
    with pytest.raises(ValueError, match="ngram_range"):
        BagOfWords(ngram_range=(2, 1))
    with pytest.raises(ValueError, match="norm"):
        TfIdf(norm="l3")
    with pytest.raises(RuntimeError, match="fit"):
        TfIdf().transform(["x y"])
    with pytest.raises(ValueError, match="empty"):
        textbook_tfidf([])
