import json, random
import numpy as np
from gbstats.models.statistics import *
from gbstats.frequentist.tests import TwoSidedTTest, SequentialTwoSidedTTest, FrequentistConfig, SequentialConfig
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
random.seed(19); np.random.seed(19)
cases=[]
def arm(kind, n, theta_true, base, lift):
    pre = np.random.normal(base, base*0.8, n) if kind=="mean" else (np.random.rand(n) < base).astype(float)
    if kind=="mean":
        post = base*(1+lift) + theta_true*(pre-base) + np.random.normal(0, base*0.5, n)
    else:
        p = np.clip(base*(1+lift) + 0.5*(pre-base), 0.001, 0.999)
        post = (np.random.rand(n) < p).astype(float)
    return dict(n=int(n), sum=float(post.sum()), sum_squares=float((post**2).sum()),
                covariate_sum=float(pre.sum()), covariate_sum_squares=float((pre**2).sum()),
                main_covariate_sum_product=float((post*pre).sum()))
def stat(kind, v):
    if kind=="mean":
        post=SampleMeanStatistic(n=v["n"], sum=v["sum"], sum_squares=v["sum_squares"])
        pre=SampleMeanStatistic(n=v["n"], sum=v["covariate_sum"], sum_squares=v["covariate_sum_squares"])
    else:
        post=ProportionStatistic(n=v["n"], sum=v["sum"]); pre=ProportionStatistic(n=v["n"], sum=v["covariate_sum"])
    return RegressionAdjustedStatistic(n=v["n"], post_statistic=post, pre_statistic=pre, post_pre_sum_of_products=v["main_covariate_sum_product"], theta=0)
i=0
for kind in ["mean","binomial"]:
  for diff in ["relative","absolute"]:
    for eng in ["frequentist","sequential","bayesian"]:
      for rep in range(3):
        i+=1
        base = random.uniform(2,50) if kind=="mean" else random.uniform(0.05,0.4)
        nA=random.randint(200,5000); nB=random.randint(200,5000)
        th=random.uniform(0.2,1.5)
        lift=random.uniform(-0.1,0.15)
        a=arm(kind,nA,th,base,0.0); b=arm(kind,nB,th,base,lift)
        sa,sb=stat(kind,a),stat(kind,b)
        alpha=random.choice([0.05,0.1])
        tuning=random.choice([1000,5000,20000])
        if eng=="frequentist":
            r=TwoSidedTTest(sa,sb,FrequentistConfig(difference_type=diff, alpha=alpha)).compute_result()
            exp=dict(lift=r.expected, ci=list(r.ci), p_value=r.p_value)
        elif eng=="sequential":
            r=SequentialTwoSidedTTest(sa,sb,SequentialConfig(difference_type=diff, alpha=alpha, sequential_tuning_parameter=tuning)).compute_result()
            exp=dict(lift=r.expected, ci=list(r.ci), p_value=r.p_value)
        else:
            r=EffectBayesianABTest(sa,sb,EffectBayesianConfig(difference_type=diff, alpha=alpha)).compute_result()
            exp=dict(lift=r.expected, ci=list(r.ci), chance_to_win=r.chance_to_win, risk=list(r.risk))
        exp["theta"]=sa.theta if isinstance(sa,RegressionAdjustedStatistic) else 0.0
        if kind=="binomial":
            for v in (a,b): v.pop("sum_squares"); v["covariate_sum_squares"]=v["covariate_sum"]
        inp=dict(metric=kind, engine="bayesian" if eng=="bayesian" else "frequentist", difference=diff,
                 sequential=eng=="sequential", alpha=alpha, cuped=True,
                 variations=[dict(name="control",**a), dict(name="treatment",**b)])
        if eng=="sequential": inp["sequential_tuning"]=tuning
        cases.append(dict(case=f"random-{i}-{kind}-{diff}-{eng}", input=inp, expected=exp))
print(json.dumps(cases, indent=1))
